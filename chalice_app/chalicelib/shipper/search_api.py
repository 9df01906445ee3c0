"""The one interface the shipper needs from a search backend: a bulk request and the classification of its failures.

Elasticsearch (elasticsearch_api.py, the elasticsearch 8.x client) and OpenSearch (opensearch_api.py, opensearch-py)
each implement BulkApi; es_writer's retry, deadline and per-document rules are written once against it. A backend
module is imported only when a client is made, so the API's cold start pays for neither client and a deployment
that uses one backend never imports the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .settings import ShipperSettings


BACKEND_NAMES = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}
"""SEARCH_BACKEND value -> the product's name, for messages."""
NOT_ELASTICSEARCH = (
    "the server does not identify as Elasticsearch (the client's product check): if it is OpenSearch or Amazon "
    "OpenSearch Service, set SEARCH_BACKEND=opensearch"
)


class SearchUnavailableError(RuntimeError):
    """A whole request failed in a way that may succeed later: connection, timeout, 429 or 5xx."""


class SearchRefusedError(RuntimeError):
    """The server refused a whole request with a 4xx (credentials, permissions, request size): retrying cannot help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class BulkApi(Protocol):
    """A backend's bulk endpoint."""

    backend: str
    client: Any  # the backend's own client, for tools that need more than bulk (ship_local refreshes)

    def bulk(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The per-item answers ({"status", "error"?, ...}) of one bulk request, in order; raises
        SearchUnavailableError or SearchRefusedError (message: status and the server's reason) when the request
        as a whole fails."""
        ...


def is_retryable_status(status: int) -> bool:
    """429 and 5xx may succeed later; other statuses will not."""
    return status == 429 or status >= 500


def reason_of(error: Any) -> str:
    """The most telling reason of an error body (its caused_by chain joined), cut short."""
    if isinstance(error, dict) and "error" in error:
        error = error["error"]
    if not isinstance(error, dict):
        return str(error)[:500]
    parts: list[str] = []
    while isinstance(error, dict) and len(parts) < 4:
        parts.append(f"{error.get('type', 'error')}: {error.get('reason', '')}")
        error = error.get("caused_by")
    return " <- ".join(parts)[:1000]


def connect(settings: ShipperSettings) -> BulkApi:
    """The bulk endpoint of the configured backend (its client imported here)."""
    if settings.backend == "opensearch":
        from .opensearch_api import OpenSearchBulk

        return OpenSearchBulk(settings)
    from .elasticsearch_api import ElasticsearchBulk

    return ElasticsearchBulk(settings)
