"""The shipper's settings: a missing or wrong value is a clear error naming the variable; the API key comes from
ES_API_KEY or a Secrets Manager secret and never shows in a repr, a message or a log line. Reading the secret from
a real (moto) Secrets Manager is in tests/integration/test_shipper_settings.py."""

from __future__ import annotations

import json
import re

import pytest

from chalice_app.chalicelib.environment import SettingsError
from chalice_app.chalicelib.shipper.settings import (
    ShipperSettings,
    api_key_from_secret,
    redact_url,
)

KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="  # the shape of an Elasticsearch API key
URL = "https://search.example.com:9243"


def never_called(secret_id: str) -> str:
    raise AssertionError(f"no secret should be read, asked for {secret_id}")


def test_defaults() -> None:
    settings = ShipperSettings.from_env({"ES_URL": URL}, never_called)
    assert settings == ShipperSettings(es_url=URL)
    assert (settings.index_prefix, settings.platform_index_prefix, settings.logs_index_prefix) == (
        "predictions",
        "platform",
        "app-logs",
    )
    assert settings.api_key is None
    assert settings.timeout_s == 5.0
    assert settings.max_retries == 3


def test_every_variable_is_read() -> None:
    env = {
        "ES_URL": " http://127.0.0.1:9200 ",
        "ES_API_KEY": KEY,
        "ES_INDEX_PREFIX": "preds",
        "ES_PLATFORM_INDEX_PREFIX": "lambda",
        "ES_LOGS_INDEX_PREFIX": "other",
        "ES_TIMEOUT_S": "2.5",
        "ES_MAX_RETRIES": "0",
        "ES_RETRY_BACKOFF_S": "0.01",
    }
    settings = ShipperSettings.from_env(env, never_called)
    assert settings == ShipperSettings("http://127.0.0.1:9200", KEY, "preds", "lambda", "other", 2.5, 0, 0.01)
    assert [settings.prefix_of(f) for f in ("predictions", "platform", "app_logs")] == ["preds", "lambda", "other"]


def test_missing_es_url_says_what_to_set() -> None:
    with pytest.raises(SettingsError, match=r"ES_URL is not set: the log shipper needs the Elasticsearch endpoint"):
        ShipperSettings.from_env({"ES_API_KEY": KEY}, never_called)
    with pytest.raises(SettingsError, match="ES_URL is not set"):
        ShipperSettings.from_env({"ES_URL": "  "}, never_called)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ES_URL": "localhost:9200"}, "ES_URL must be an http(s)://host[:port] URL, got 'localhost:9200'"),
        ({"ES_URL": "ftp://host"}, "ES_URL must be an http(s)://host[:port] URL"),
        ({"ES_URL": URL, "ES_INDEX_PREFIX": "Predictions"}, "ES_INDEX_PREFIX must be lowercase"),
        ({"ES_URL": URL, "ES_INDEX_PREFIX": "predictions-*"}, "ES_INDEX_PREFIX must be lowercase"),
        ({"ES_URL": URL, "ES_LOGS_INDEX_PREFIX": "platform"}, "must differ"),
        ({"ES_URL": URL, "ES_TIMEOUT_S": "soon"}, "ES_TIMEOUT_S must be a number, got 'soon'"),
        ({"ES_URL": URL, "ES_TIMEOUT_S": "0"}, "ES_TIMEOUT_S must be > 0"),
        ({"ES_URL": URL, "ES_MAX_RETRIES": "2.5"}, "ES_MAX_RETRIES must be an integer, got '2.5'"),
        ({"ES_URL": URL, "ES_MAX_RETRIES": "-1"}, "ES_MAX_RETRIES must be >= 0"),
        ({"ES_URL": URL, "ES_RETRY_BACKOFF_S": "-1"}, "ES_RETRY_BACKOFF_S must be >= 0"),
        ({"ES_URL": URL, "ES_API_KEY": KEY, "ES_API_KEY_SECRET_ID": "s"}, "not both"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        ShipperSettings.from_env(env, never_called)
    assert message in str(caught.value)
    assert KEY not in str(caught.value)


def test_the_key_never_shows() -> None:
    settings = ShipperSettings.from_env({"ES_URL": "https://elastic:hunter2@es.example.com:9243", "ES_API_KEY": KEY})
    assert KEY not in repr(settings)
    assert "hunter2" not in settings.safe_url
    assert settings.safe_url == "https://***@es.example.com:9243"
    with pytest.raises(SettingsError) as caught:
        ShipperSettings(es_url="ftp://user:hunter2@host")
    assert "hunter2" not in str(caught.value)
    assert redact_url(URL) == URL


def test_the_key_can_come_from_a_secret() -> None:
    asked: list[str] = []

    def fetch(secret_id: str) -> str:
        asked.append(secret_id)
        return json.dumps({"api_key": KEY})

    settings = ShipperSettings.from_env({"ES_URL": URL, "ES_API_KEY_SECRET_ID": "prod/es-shipper"}, fetch)
    assert settings.api_key == KEY
    assert asked == ["prod/es-shipper"]


@pytest.mark.parametrize(
    ("secret", "expected"),
    [(KEY, KEY), (f"  {KEY}\n", KEY), (json.dumps({"api_key": KEY, "user": "x"}), KEY)],
)
def test_secret_forms(secret: str, expected: str) -> None:
    assert api_key_from_secret("s", secret) == expected


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("", "secret 's' is empty"),
        ("{}", 'JSON object without a non-empty string "api_key"'),
        ('{"api_key": 5}', 'without a non-empty string "api_key"'),
        ("{not json", 'without a non-empty string "api_key"'),
    ],
)
def test_unusable_secrets_are_refused(secret: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        api_key_from_secret("s", secret)


class TestBackends:
    """SEARCH_BACKEND and ES_AUTH: OpenSearch with SigV4 or basic auth; pairings that cannot work are refused."""

    def test_opensearch_defaults_to_sigv4_for_the_region_lambda_sets(self) -> None:
        env = {"ES_URL": "https://search-cola-x1.eu-west-1.es.amazonaws.com", "SEARCH_BACKEND": "opensearch"}
        settings = ShipperSettings.from_env({**env, "AWS_REGION": "eu-west-1"}, never_called)
        assert (settings.backend, settings.auth_mode, settings.sigv4_service, settings.sigv4_region) == (
            "opensearch",
            "sigv4",
            "es",
            "eu-west-1",
        )

    def test_serverless_is_signed_for_aoss(self) -> None:
        env = {"ES_URL": "https://abc.us-east-1.aoss.amazonaws.com", "SEARCH_BACKEND": "opensearch"}
        env.update(ES_SIGV4_SERVICE="aoss", ES_SIGV4_REGION="us-east-1", AWS_REGION="eu-west-1")
        settings = ShipperSettings.from_env(env, never_called)
        assert (settings.sigv4_service, settings.sigv4_region) == ("aoss", "us-east-1")

    def test_elasticsearch_stays_the_default(self) -> None:
        assert ShipperSettings.from_env({"ES_URL": URL, "ES_API_KEY": KEY}, never_called).auth_mode == "api_key"
        assert ShipperSettings.from_env({"ES_URL": URL}, never_called).auth_mode == "none"

    def test_basic_auth_from_a_secret_never_shows(self) -> None:
        secret = json.dumps({"username": "shipper", "password": "pa55-w0rd"})
        env = {"ES_URL": URL, "SEARCH_BACKEND": "opensearch", "ES_AUTH": "basic", "ES_BASIC_AUTH_SECRET_ID": "os"}
        settings = ShipperSettings.from_env(env, lambda secret_id: secret)
        assert settings.basic_auth == ("shipper", "pa55-w0rd")
        assert "pa55-w0rd" not in repr(settings)

    def test_basic_auth_from_the_environment(self) -> None:
        env = {"ES_URL": URL, "SEARCH_BACKEND": "opensearch", "ES_AUTH": "basic"}
        settings = ShipperSettings.from_env({**env, "ES_USERNAME": "u", "ES_PASSWORD": "p"}, never_called)
        assert settings.basic_auth == ("u", "p")

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({"SEARCH_BACKEND": "solr"}, "SEARCH_BACKEND must be one of elasticsearch, opensearch, got 'solr'"),
            ({"ES_AUTH": "kerberos"}, "ES_AUTH must be one of api_key, sigv4, basic, none"),
            ({"ES_AUTH": "sigv4", "AWS_REGION": "eu-west-1"}, "set SEARCH_BACKEND=opensearch"),
            ({"SEARCH_BACKEND": "opensearch", "ES_API_KEY": KEY}, "OpenSearch has no Elasticsearch API keys"),
            ({"SEARCH_BACKEND": "opensearch"}, "ES_AUTH=sigv4 needs the endpoint's region"),
            ({"SEARCH_BACKEND": "opensearch", "AWS_REGION": "x-1", "ES_SIGV4_SERVICE": "s3"}, "ES_SIGV4_SERVICE must"),
            ({"ES_AUTH": "api_key"}, "ES_AUTH=api_key needs ES_API_KEY"),
            ({"ES_AUTH": "basic", "ES_USERNAME": "u"}, "ES_AUTH=basic needs"),
            (
                {"ES_AUTH": "basic", "ES_USERNAME": "u", "ES_PASSWORD": "p", "ES_BASIC_AUTH_SECRET_ID": "s"},
                "not both",
            ),
        ],
    )
    def test_impossible_pairings_are_refused(self, env: dict[str, str], message: str) -> None:
        with pytest.raises(SettingsError, match=re.escape(message)):
            ShipperSettings.from_env({"ES_URL": URL, **env}, never_called)

    def test_an_amazon_endpoint_with_the_elasticsearch_backend_says_what_to_set(self) -> None:
        with pytest.raises(SettingsError, match=r"is an Amazon OpenSearch Service endpoint.*SEARCH_BACKEND=opensearch"):
            ShipperSettings.from_env({"ES_URL": "https://search-d-x.eu-west-1.es.amazonaws.com"}, never_called)

    def test_a_signature_for_another_region_than_the_endpoints_is_refused_before_sending(self) -> None:
        env = {"ES_URL": "https://search-d-x.eu-west-1.es.amazonaws.com", "SEARCH_BACKEND": "opensearch"}
        with pytest.raises(SettingsError, match="ES_SIGV4_REGION=eu-west-1 and ES_SIGV4_SERVICE=es"):
            ShipperSettings.from_env({**env, "AWS_REGION": "us-east-1"}, never_called)

    def test_an_unusable_basic_auth_secret_is_refused(self) -> None:
        env = {"ES_URL": URL, "SEARCH_BACKEND": "opensearch", "ES_AUTH": "basic", "ES_BASIC_AUTH_SECRET_ID": "os"}
        with pytest.raises(SettingsError, match=r'secret .os. must be JSON \{"username"'):
            ShipperSettings.from_env(env, lambda secret_id: '{"username": "u"}')
