"""Elasticsearch 8.x and 9.x through the elasticsearch 8.x client (its compatible-with=8 headers are accepted by
both majors). API key or basic auth; retries are es_writer's, so the client makes none."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .search_api import NOT_ELASTICSEARCH, SearchRefusedError, SearchUnavailableError, is_retryable_status, reason_of
from .settings import ShipperSettings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def elasticsearch_client(settings: ShipperSettings, max_retries: int = 0) -> Elasticsearch:
    """The official client with the configured credentials (imported here: only a caller that writes pays)."""
    from elasticsearch import Elasticsearch

    mode = settings.auth_mode
    return Elasticsearch(
        settings.es_url,
        api_key=settings.api_key if mode == "api_key" else None,
        basic_auth=settings.basic_auth if mode == "basic" else None,
        request_timeout=settings.timeout_s,
        max_retries=max_retries,
    )


class ElasticsearchBulk:
    """BulkApi over `Elasticsearch.bulk`."""

    backend = "elasticsearch"

    def __init__(self, settings: ShipperSettings) -> None:
        self.client = elasticsearch_client(settings)
        self._target = settings.safe_url

    def bulk(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from elastic_transport import ConnectionError, ConnectionTimeout
        from elasticsearch import ApiError, UnsupportedProductError

        try:
            response = self.client.bulk(operations=operations)
        except (ConnectionError, ConnectionTimeout) as err:
            raise SearchUnavailableError(f"{type(err).__name__}: {err}") from None
        except UnsupportedProductError:
            raise SearchRefusedError(NOT_ELASTICSEARCH, 0) from None
        except ApiError as err:
            message = f"{err.meta.status} {reason_of(err.body)}"
            if is_retryable_status(err.meta.status):
                raise SearchUnavailableError(f"HTTP {message}") from None
            if err.meta.status == 406:  # how OpenSearch answers the client's compatible-with media type
                message = f"{message}; {NOT_ELASTICSEARCH}"
            raise SearchRefusedError(message, err.meta.status) from None
        return [next(iter(item.values())) for item in response.body.get("items", [])]
