"""Settings of the log shipper (the ship_logs Lambda), read from the environment.

ES_URL                    Elasticsearch endpoint, http(s)://host[:port] (required)
ES_API_KEY                API key (the base64 "id:key" form Elasticsearch hands out); or
ES_API_KEY_SECRET_ID      name or ARN of a Secrets Manager secret holding the key (plain, or JSON {"api_key": ...}),
                          read once per process with boto3 (the Lambda runtime has it); set one of the two, or
                          neither for a server without security (local tests)
ES_INDEX_PREFIX           daily prediction indices <prefix>-YYYY.MM.DD (default "predictions")
ES_PLATFORM_INDEX_PREFIX  Lambda platform lines (default "platform")
ES_LOGS_INDEX_PREFIX      the function's other lines: errors, events, raw text (default "app-logs")
ES_TIMEOUT_S              seconds per Elasticsearch request (default 5)
ES_MAX_RETRIES            retries after a failed attempt, with exponential backoff (default 3)
ES_RETRY_BACKOFF_S        first backoff; doubles each retry, at most 30 s (default 0.5)

The key never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..environment import SettingsError

DEFAULT_INDEX_PREFIX = "predictions"
DEFAULT_PLATFORM_INDEX_PREFIX = "platform"
DEFAULT_LOGS_INDEX_PREFIX = "app-logs"
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_BACKOFF_S = 0.5
_INDEX_PREFIX = re.compile(r"^[a-z0-9][a-z0-9._-]{0,200}$")

SecretFetcher = Callable[[str], str]


@dataclass(frozen=True)
class ShipperSettings:
    """Where and how the shipper writes."""

    es_url: str
    api_key: str | None = field(default=None, repr=False)
    index_prefix: str = DEFAULT_INDEX_PREFIX
    platform_index_prefix: str = DEFAULT_PLATFORM_INDEX_PREFIX
    logs_index_prefix: str = DEFAULT_LOGS_INDEX_PREFIX
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_backoff_s: float = DEFAULT_RETRY_BACKOFF_S

    def __post_init__(self) -> None:
        parts = urlsplit(self.es_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(f"ES_URL must be an http(s)://host[:port] URL, got {self.safe_url!r}")
        for name in ("index_prefix", "platform_index_prefix", "logs_index_prefix"):
            value = getattr(self, name)
            if not _INDEX_PREFIX.match(value):
                raise SettingsError(
                    f"ES_{name.upper()} must be lowercase letters, digits, '.', '_' or '-', got {value!r}"
                )
        if len({self.index_prefix, self.platform_index_prefix, self.logs_index_prefix}) < 3:
            raise SettingsError("the three ES_*INDEX_PREFIX settings must differ (each family has its own mapping)")
        if not self.timeout_s > 0:
            raise SettingsError(f"ES_TIMEOUT_S must be > 0, got {self.timeout_s}")
        if self.max_retries < 0:
            raise SettingsError(f"ES_MAX_RETRIES must be >= 0, got {self.max_retries}")
        if self.retry_backoff_s < 0:
            raise SettingsError(f"ES_RETRY_BACKOFF_S must be >= 0, got {self.retry_backoff_s}")

    @property
    def safe_url(self) -> str:
        """ES_URL with any user:password@ removed, fit for logs."""
        return redact_url(self.es_url)

    def prefix_of(self, family: str) -> str:
        """The index prefix of a record family (log_records.FAMILIES)."""
        prefixes = {
            "predictions": self.index_prefix,
            "platform": self.platform_index_prefix,
            "app_logs": self.logs_index_prefix,
        }
        return prefixes[family]

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, fetch_secret: SecretFetcher | None = None
    ) -> ShipperSettings:
        """Settings from `environ` (default os.environ); the key from ES_API_KEY or the secret ES_API_KEY_SECRET_ID."""
        env = os.environ if environ is None else environ
        url = env.get("ES_URL", "").strip()
        if not url:
            raise SettingsError(
                "ES_URL is not set: the log shipper needs the Elasticsearch endpoint, e.g. "
                "ES_URL=https://search.example.com:9243 (set it in the stage's environment_variables)"
            )
        return cls(
            es_url=url,
            api_key=_api_key(env, fetch_secret or fetch_secret_string),
            index_prefix=env.get("ES_INDEX_PREFIX", "").strip() or DEFAULT_INDEX_PREFIX,
            platform_index_prefix=env.get("ES_PLATFORM_INDEX_PREFIX", "").strip() or DEFAULT_PLATFORM_INDEX_PREFIX,
            logs_index_prefix=env.get("ES_LOGS_INDEX_PREFIX", "").strip() or DEFAULT_LOGS_INDEX_PREFIX,
            timeout_s=_number(env, "ES_TIMEOUT_S", DEFAULT_TIMEOUT_S, float),
            max_retries=int(_number(env, "ES_MAX_RETRIES", DEFAULT_MAX_RETRIES, int)),
            retry_backoff_s=_number(env, "ES_RETRY_BACKOFF_S", DEFAULT_RETRY_BACKOFF_S, float),
        )


def redact_url(url: str) -> str:
    """The URL without credentials in its authority part."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, f"***@{netloc}", parts.path, parts.query, parts.fragment))


def _api_key(env: Mapping[str, str], fetch_secret: SecretFetcher) -> str | None:
    key = env.get("ES_API_KEY", "").strip()
    secret_id = env.get("ES_API_KEY_SECRET_ID", "").strip()
    if key and secret_id:
        raise SettingsError("set ES_API_KEY or ES_API_KEY_SECRET_ID, not both")
    if not secret_id:
        return key or None
    return api_key_from_secret(secret_id, fetch_secret(secret_id))


def api_key_from_secret(secret_id: str, secret: str) -> str:
    """The key held by a secret string: the string itself, or the "api_key" of a JSON object."""
    text = secret.strip()
    if text.startswith("{"):
        try:
            value: Any = json.loads(text).get("api_key")
        except (ValueError, AttributeError):
            value = None
        if not isinstance(value, str) or not value.strip():
            raise SettingsError(f'secret {secret_id!r} is a JSON object without a non-empty string "api_key"')
        return value.strip()
    if not text:
        raise SettingsError(f"secret {secret_id!r} is empty")
    return text


def fetch_secret_string(secret_id: str) -> str:
    """SecretString of a Secrets Manager secret (boto3 imported here: only a shipper that uses a secret pays)."""
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise SettingsError(
            "ES_API_KEY_SECRET_ID is set but boto3 is not installed (the Lambda runtime has it; elsewhere "
            "install boto3 or set ES_API_KEY)"
        ) from None
    try:
        answer = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "unknown")
        raise SettingsError(f"cannot read secret {secret_id!r} from Secrets Manager: {code}") from None
    except BotoCoreError as err:
        raise SettingsError(f"cannot read secret {secret_id!r} from Secrets Manager: {err}") from None
    secret = answer.get("SecretString")
    if not isinstance(secret, str):
        raise SettingsError(f"secret {secret_id!r} has no SecretString (a binary secret is not supported)")
    return secret


def _number(env: Mapping[str, str], name: str, default: float, kind: type[int] | type[float]) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
