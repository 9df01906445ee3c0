"""The shipper's API key from a Secrets Manager secret, read from a real moto server over HTTP: the secret's key is
used, a missing secret is a clear error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalice_app.chalicelib.environment import SettingsError
from chalice_app.chalicelib.shipper.settings import ShipperSettings, fetch_secret_string
from devtools.processes import free_port

KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="  # the shape of an Elasticsearch API key
URL = "https://search.example.com:9243"


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A real moto server (in a thread, over HTTP) standing in for Secrets Manager; dummy credentials only."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.mark.integration
def test_the_secret_is_read_from_secrets_manager(secrets_manager: str) -> None:
    import boto3

    boto3.client("secretsmanager").create_secret(Name="dev/es-shipper", SecretString=json.dumps({"api_key": KEY}))
    assert fetch_secret_string("dev/es-shipper") == json.dumps({"api_key": KEY})
    settings = ShipperSettings.from_env({"ES_URL": URL, "ES_API_KEY_SECRET_ID": "dev/es-shipper"})
    assert settings.api_key == KEY


@pytest.mark.integration
def test_a_missing_secret_is_a_clear_error(secrets_manager: str) -> None:
    with pytest.raises(
        SettingsError, match="cannot read secret 'nope' from Secrets Manager: ResourceNotFoundException"
    ):
        ShipperSettings.from_env({"ES_URL": URL, "ES_API_KEY_SECRET_ID": "nope"})
