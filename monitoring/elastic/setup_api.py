"""What `make es-setup` asks of a search server, for Elasticsearch (ILM) and OpenSearch (ISM).

Both take the same composable index templates and mappings; they differ in retention: Elasticsearch's ILM policy is
named by each template (index.lifecycle.name), OpenSearch's ISM policy names the index patterns it attaches to
(ism_template) and a template must not carry index.lifecycle.name (OpenSearch refuses the unknown setting).
A server without the retention API (the test servers) answers 400 "no handler found" or 404: the policy is skipped
with a message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from monitoring.elastic.index_templates import ILM_POLICY_NAME, ISM_POLICY_ID, ilm_policy, ism_policy

T = TypeVar("T")


class SetupError(RuntimeError):
    """The server is unreachable or refused part of the set-up."""


class ApiError(SetupError):
    """The server answered a request with an error status."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status} {body}")
        self.status, self.body = status, body


def api_unsupported(status: int, body: Any) -> bool:
    """The server has no such API: 404, or 400 "no handler found for uri" (how ES-like servers answer)."""
    if status == 404:
        return True
    text = json.dumps(body) if not isinstance(body, str) else body
    return status == 400 and "no handler found" in text


ilm_unsupported = api_unsupported  # the name es_setup's callers know


class ElasticsearchSetup:
    """The set-up calls through the elasticsearch client."""

    backend = "elasticsearch"
    retention = "ILM"

    def __init__(self, client: Any) -> None:
        self.client = client

    @contextmanager
    def _errors(self) -> Iterator[None]:
        from elasticsearch import ApiError as EsApiError

        try:
            yield
        except EsApiError as err:
            raise ApiError(err.meta.status, err.body) from None

    def _call(self, fn: Callable[..., T], **kwargs: Any) -> T:
        with self._errors():
            return fn(**kwargs)

    def put_retention(self, prefixes: list[str]) -> str | None:
        """Install the ILM policy; its name for the templates."""
        self._call(self.client.ilm.put_lifecycle, name=ILM_POLICY_NAME, body=ilm_policy())
        return ILM_POLICY_NAME

    def put_template(self, name: str, body: dict[str, Any]) -> None:
        self._call(self.client.indices.put_index_template, name=name, body=body)

    def existing(self, pattern: str) -> list[str]:
        found = self._call(self.client.indices.get, index=pattern, allow_no_indices=True, expand_wildcards="open")
        return sorted(found)

    def put_mapping(self, indices: list[str], body: dict[str, Any]) -> None:
        self._call(self.client.indices.put_mapping, index=",".join(indices), body=body)


class OpenSearchSetup(ElasticsearchSetup):
    """The set-up calls through opensearch-py."""

    backend = "opensearch"
    retention = "ISM"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        from opensearchpy import TransportError

        try:
            yield
        except TransportError as err:
            raise ApiError(err.status_code if isinstance(err.status_code, int) else 0, err.info) from None

    def put_retention(self, prefixes: list[str]) -> str | None:
        """Install (or update) the ISM policy; None: templates carry no lifecycle setting on OpenSearch.

        Updating a policy needs the sequence number and primary term of the stored one (else 409)."""
        ism = self.client.plugins.index_management
        params: dict[str, Any] = {}
        try:
            with self._errors():
                stored = ism.get_policy(policy=ISM_POLICY_ID)
            params = {"if_seq_no": stored["_seq_no"], "if_primary_term": stored["_primary_term"]}
        except ApiError as err:
            if err.status != 404:  # 404: no such policy yet
                raise
        self._call(ism.put_policy, policy=ISM_POLICY_ID, body=ism_policy(prefixes), params=params)
        return None
