"""Settings of the log shipper (the ship_logs Lambda), read from the environment.

ES_URL                    search endpoint, http(s)://host[:port] (required): Elasticsearch, or OpenSearch
SEARCH_BACKEND            elasticsearch (default: Elasticsearch 8.x/9.x, the elasticsearch 8.x client) or
                          opensearch (Amazon OpenSearch Service or any OpenSearch 2.x/3.x: the opensearch-py client)
ES_AUTH                   api_key, sigv4, basic or none. Default: api_key when a key is set, else none, on
                          Elasticsearch; sigv4 on OpenSearch. sigv4 (OpenSearch only) signs every request with the
                          AWS credentials of the environment (the function's role on Lambda)
ES_API_KEY                API key (the base64 "id:key" form Elasticsearch hands out); or
ES_API_KEY_SECRET_ID      name or ARN of a Secrets Manager secret holding the key (plain, or JSON {"api_key": ...}),
                          read with boto3 (the Lambda runtime has it); set one of the two, or neither for a server
                          without security (local tests). Elasticsearch only: OpenSearch has no such API keys
ES_BASIC_AUTH_SECRET_ID   ES_AUTH=basic: a secret holding JSON {"username": ..., "password": ...}; or
ES_USERNAME, ES_PASSWORD  the same from the environment (local use)
ES_SIGV4_SERVICE          ES_AUTH=sigv4: es (managed domains, default) or aoss (OpenSearch Serverless collections)
ES_SIGV4_REGION           ES_AUTH=sigv4: the endpoint's region (default: AWS_REGION, which Lambda sets)
ES_INDEX_PREFIX           daily prediction indices <prefix>-YYYY.MM.DD (default "predictions")
ES_PLATFORM_INDEX_PREFIX  Lambda platform lines (default "platform")
ES_LOGS_INDEX_PREFIX      the function's other lines: errors, events, raw text (default "app-logs")
ES_TIMEOUT_S              seconds per Elasticsearch request (default 5)
ES_MAX_RETRIES            retries after a failed attempt, with exponential backoff (default 3)
ES_RETRY_BACKOFF_S        first backoff; doubles each retry, at most 30 s (default 0.5)

Credentials never appear in a repr, a log line or an error message. A pairing that cannot work (SigV4 or an
*.es.amazonaws.com endpoint with SEARCH_BACKEND=elasticsearch: the Elasticsearch client refuses any server that is
not Elasticsearch; an API key with OpenSearch; a signature scoped to another region or service than the endpoint's)
is a SettingsError before anything is sent.
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
ELASTICSEARCH, OPENSEARCH = "elasticsearch", "opensearch"
BACKENDS = (ELASTICSEARCH, OPENSEARCH)
AUTH_MODES = ("api_key", "sigv4", "basic", "none")
SIGV4_SERVICES = ("es", "aoss")
_AWS_ENDPOINT = re.compile(r"\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.(?P<service>es|aoss)\.amazonaws\.com$")
"""Managed domains: search-NAME-ID.REGION.es.amazonaws.com; Serverless: ID.REGION.aoss.amazonaws.com."""

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
    backend: str = ELASTICSEARCH
    auth: str | None = None  # None: the backend's default (see auth_mode)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    sigv4_service: str = "es"
    sigv4_region: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.es_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(f"ES_URL must be an http(s)://host[:port] URL, got {self.safe_url!r}")
        self._check_connection(parts.hostname)
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
    def auth_mode(self) -> str:
        """ES_AUTH, or the backend's default: sigv4 on OpenSearch; api_key (with a key) or none on Elasticsearch."""
        if self.auth:
            return self.auth
        if self.backend == OPENSEARCH:
            return "sigv4"
        return "api_key" if self.api_key else "none"

    def _check_connection(self, host: str) -> None:
        """SettingsError for a backend, auth and endpoint that cannot work together (module doc)."""
        if self.backend not in BACKENDS:
            raise SettingsError(f"SEARCH_BACKEND must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.auth is not None and self.auth not in AUTH_MODES:
            raise SettingsError(f"ES_AUTH must be one of {', '.join(AUTH_MODES)}, got {self.auth!r}")
        aws = _AWS_ENDPOINT.search(host.lower())
        mode = self.auth_mode
        if self.backend == ELASTICSEARCH and (aws or mode == "sigv4"):
            why = f"{host} is an Amazon OpenSearch Service endpoint" if aws else "ES_AUTH=sigv4 is OpenSearch's"
            raise SettingsError(
                f"{why}, and the Elasticsearch client refuses any server that is not Elasticsearch: set "
                "SEARCH_BACKEND=opensearch"
            )
        if self.backend == OPENSEARCH and (self.api_key or mode == "api_key"):
            raise SettingsError(
                "OpenSearch has no Elasticsearch API keys: unset ES_API_KEY / ES_API_KEY_SECRET_ID and use "
                "ES_AUTH=sigv4 (Amazon OpenSearch Service with IAM) or ES_AUTH=basic (an internal user)"
            )
        if mode == "api_key" and not self.api_key:
            raise SettingsError("ES_AUTH=api_key needs ES_API_KEY or ES_API_KEY_SECRET_ID")
        if mode == "basic" and not self.basic_auth:
            raise SettingsError("ES_AUTH=basic needs ES_BASIC_AUTH_SECRET_ID, or ES_USERNAME and ES_PASSWORD")
        if mode == "sigv4":
            self._check_sigv4((aws["region"], aws["service"]) if aws else None)

    def _check_sigv4(self, endpoint: tuple[str, str] | None) -> None:
        if self.sigv4_service not in SIGV4_SERVICES:
            raise SettingsError(
                f"ES_SIGV4_SERVICE must be es (managed domains) or aoss (Serverless), got {self.sigv4_service!r}"
            )
        if not self.sigv4_region:
            raise SettingsError("ES_AUTH=sigv4 needs the endpoint's region: set ES_SIGV4_REGION (or AWS_REGION)")
        if endpoint is not None and endpoint != (self.sigv4_region, self.sigv4_service):
            raise SettingsError(
                f"ES_URL is a {endpoint[1]} endpoint in {endpoint[0]} but requests would be signed for "
                f"{self.sigv4_service} in {self.sigv4_region}, which AWS refuses (403): set ES_SIGV4_REGION="
                f"{endpoint[0]} and ES_SIGV4_SERVICE={endpoint[1]}"
            )

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
        fetch = fetch_secret or fetch_secret_string
        auth = env.get("ES_AUTH", "").strip().lower() or None
        return cls(
            es_url=url,
            api_key=_api_key(env, fetch),
            index_prefix=env.get("ES_INDEX_PREFIX", "").strip() or DEFAULT_INDEX_PREFIX,
            platform_index_prefix=env.get("ES_PLATFORM_INDEX_PREFIX", "").strip() or DEFAULT_PLATFORM_INDEX_PREFIX,
            logs_index_prefix=env.get("ES_LOGS_INDEX_PREFIX", "").strip() or DEFAULT_LOGS_INDEX_PREFIX,
            timeout_s=_number(env, "ES_TIMEOUT_S", DEFAULT_TIMEOUT_S, float),
            max_retries=int(_number(env, "ES_MAX_RETRIES", DEFAULT_MAX_RETRIES, int)),
            retry_backoff_s=_number(env, "ES_RETRY_BACKOFF_S", DEFAULT_RETRY_BACKOFF_S, float),
            backend=env.get("SEARCH_BACKEND", "").strip().lower() or ELASTICSEARCH,
            auth=auth,
            basic_auth=_basic_auth(env, fetch) if auth == "basic" else None,
            sigv4_service=env.get("ES_SIGV4_SERVICE", "").strip().lower() or "es",
            sigv4_region=(env.get("ES_SIGV4_REGION") or env.get("AWS_REGION") or "").strip() or None,
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


def _basic_auth(env: Mapping[str, str], fetch_secret: SecretFetcher) -> tuple[str, str] | None:
    secret_id = env.get("ES_BASIC_AUTH_SECRET_ID", "").strip()
    username, password = env.get("ES_USERNAME", ""), env.get("ES_PASSWORD", "")
    if secret_id and (username or password):
        raise SettingsError("set ES_BASIC_AUTH_SECRET_ID or ES_USERNAME/ES_PASSWORD, not both")
    if secret_id:
        return basic_auth_from_secret(secret_id, fetch_secret(secret_id))
    return (username, password) if username and password else None


def basic_auth_from_secret(secret_id: str, secret: str) -> tuple[str, str]:
    """(username, password) of a secret holding JSON {"username": ..., "password": ...}."""
    try:
        value: Any = json.loads(secret)
    except ValueError:
        value = None
    username, password = (value.get("username"), value.get("password")) if isinstance(value, dict) else (None, None)
    if not (isinstance(username, str) and username and isinstance(password, str) and password):
        raise SettingsError(f'secret {secret_id!r} must be JSON {{"username": "...", "password": "..."}}')
    return username, password


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
            f"secret {secret_id!r} is configured but boto3 is not installed (the Lambda runtime has it; "
            "elsewhere install boto3 or give the credentials in the environment)"
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
