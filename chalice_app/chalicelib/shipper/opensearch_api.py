"""OpenSearch (Amazon OpenSearch Service, Serverless, or self-managed 2.x/3.x) through opensearch-py.

SigV4: every request is signed with the AWS credentials of the environment (on Lambda the function role's, which
the runtime puts in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN; botocore's chain elsewhere) for
the configured service (es: managed domains; aoss: Serverless) and region, by opensearch-py's Urllib3AWSV4SignerAuth
(botocore's SigV4 code; the connection class is urllib3's, which the client uses by default). Basic auth: an
internal user of fine-grained access control. Retries are es_writer's, so the client makes none.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ..environment import SettingsError
from .search_api import SearchRefusedError, SearchUnavailableError, is_retryable_status, reason_of
from .settings import ShipperSettings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch


def _import_client() -> Any:
    # requests (an opensearch-py dependency the urllib3 path never calls) warns when its optional charset detector
    # is absent, as in the pruned Lambda package.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Unable to find acceptable character detection")
        import opensearchpy
    return opensearchpy


def sigv4_auth(settings: ShipperSettings) -> Any:
    """A signer for every request, with credentials from botocore's chain (SettingsError when there are none)."""
    import botocore.session

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise SettingsError(
            "ES_AUTH=sigv4 but no AWS credentials were found: on Lambda the function's role provides them; "
            "elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    opensearchpy = _import_client()
    return opensearchpy.Urllib3AWSV4SignerAuth(credentials, settings.sigv4_region, settings.sigv4_service)


def opensearch_client(settings: ShipperSettings, max_retries: int = 0) -> OpenSearch:
    """opensearch-py's client with the configured authentication."""
    opensearchpy = _import_client()
    mode = settings.auth_mode
    http_auth: Any = None
    if mode == "sigv4":
        http_auth = sigv4_auth(settings)
    elif mode == "basic":
        http_auth = settings.basic_auth
    client: OpenSearch = opensearchpy.OpenSearch(
        hosts=[settings.es_url],
        http_auth=http_auth,
        connection_class=opensearchpy.Urllib3HttpConnection,
        timeout=settings.timeout_s,
        max_retries=max_retries,
        retry_on_timeout=False,
        http_compress=False,
    )
    return client


class OpenSearchBulk:
    """BulkApi over `OpenSearch.bulk`."""

    backend = "opensearch"

    def __init__(self, settings: ShipperSettings) -> None:
        self.client = opensearch_client(settings)

    def bulk(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from opensearchpy import ConnectionError, TransportError

        try:
            response = self.client.bulk(body=operations)
        except ConnectionError as err:  # ConnectionTimeout is one; both carry status "N/A"
            raise SearchUnavailableError(f"{type(err).__name__}: {err.info or err.error}") from None
        except TransportError as err:
            status = err.status_code if isinstance(err.status_code, int) else 0
            message = f"{status} {reason_of(err.info)}"
            if is_retryable_status(status):
                raise SearchUnavailableError(f"HTTP {message}") from None
            raise SearchRefusedError(message, status) from None
        return [next(iter(item.values())) for item in response.get("items", [])]
