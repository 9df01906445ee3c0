"""Bulk writes to Elasticsearch or OpenSearch (search_api.BulkApi) that are safe to repeat, with retries.

Each document is sent as a bulk `create` with a fixed _id: a document already there answers 409 and counts as a
duplicate (re-delivery adds nothing and overwrites nothing). A whole request that fails on the connection, a
timeout, 429 or 5xx is retried with exponential backoff; so are the items that answer 429 or 5xx. Items refused
with another 4xx (a mapping error) are not retried here: they are returned as `rejected` for the caller to report.

Why not the clients' streaming_bulk/parallel_bulk helpers: they retry items answered 429 only (not 5xx), sleep
without regard to the invocation's remaining time, and treat other failures through raise_on_error flags; the
per-document rules above (409 a duplicate, 4xx kept for app-logs, 429/5xx retried within the deadline) would be
rebuilt around them anyway. The writer therefore sends each chunk with the client's plain bulk API.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .search_api import (
    BACKEND_NAMES,
    BulkApi,
    SearchRefusedError,
    SearchUnavailableError,
    is_retryable_status,
    reason_of,
)

MAX_BACKOFF_S = 30.0
DEADLINE_MARGIN_S = 2.0
"""Time kept back at the end of an invocation for the summary line and a clean failure."""
CHUNK_SIZE = 500
"""Documents per bulk request (a CloudWatch batch holds up to 10,000 events in 1 MB)."""


@dataclass(frozen=True)
class Action:
    """One document for one index."""

    index: str
    doc_id: str
    document: dict[str, Any]


@dataclass(frozen=True)
class ItemFailure:
    """An item Elasticsearch did not store, with its answer."""

    index: str
    doc_id: str
    status: int
    error_type: str
    reason: str


@dataclass
class BulkOutcome:
    """What happened to the documents of one write."""

    created: int = 0
    duplicates: int = 0
    rejected: list[ItemFailure] = field(default_factory=list)
    unresolved: list[ItemFailure] = field(default_factory=list)
    requests: int = 0
    retries: int = 0

    @property
    def failed(self) -> list[ItemFailure]:
        return [*self.rejected, *self.unresolved]


class EsUnavailableError(RuntimeError):
    """Elasticsearch could not be reached (or kept answering 429/5xx) through every retry."""


class EsRequestError(RuntimeError):
    """Elasticsearch refused a whole bulk request with a 4xx (credentials, permissions, request size)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class DeadlineError(EsUnavailableError):
    """Too little of the invocation is left for another attempt: stop before Lambda stops the function."""


class BulkWriter:
    """Writes Actions with `create`, retrying what can succeed later."""

    def __init__(
        self,
        client: BulkApi,
        *,
        max_retries: int,
        backoff_s: float,
        target: str,
        sleep: Callable[[float], None] = time.sleep,
        chunk_size: int = CHUNK_SIZE,
        remaining_s: Callable[[], float] | None = None,
        request_timeout_s: float = 10.0,
    ) -> None:
        self._client = client
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._target = target  # the endpoint for messages, credentials removed
        self._name = BACKEND_NAMES[client.backend]
        self._sleep = sleep
        self._chunk_size = chunk_size
        self._remaining_s = remaining_s  # the invocation's time left (Lambda's context), None: no deadline
        self._request_timeout_s = request_timeout_s

    def write(self, actions: Sequence[Action], outcome: BulkOutcome | None = None) -> BulkOutcome:
        """Write every action into `outcome` (kept up to date, so a caller sees the progress of a write that
        raised); raises EsUnavailableError (DeadlineError) or EsRequestError when a request cannot get through."""
        outcome = outcome if outcome is not None else BulkOutcome()
        for start in range(0, len(actions), self._chunk_size):
            self._write_chunk(list(actions[start : start + self._chunk_size]), outcome)
        return outcome

    def _write_chunk(self, pending: list[Action], outcome: BulkOutcome) -> None:
        attempt = 0
        while pending:
            outcome.requests += 1
            answers = self._send(pending, attempt)
            if answers is None:  # the request itself failed and may succeed later
                attempt = self._next_attempt(attempt, outcome)
                continue
            retry: list[tuple[Action, dict[str, Any]]] = []
            for action, answer in zip(pending, answers, strict=True):
                status = int(answer.get("status", 0))
                if 200 <= status < 300:
                    outcome.created += 1
                elif status == 409:
                    outcome.duplicates += 1
                elif is_retryable_status(status):
                    retry.append((action, answer))
                else:
                    outcome.rejected.append(_failure(action, answer))
            if retry and attempt >= self._max_retries:
                outcome.unresolved.extend(_failure(action, answer) for action, answer in retry)
                return
            if retry:
                attempt = self._next_attempt(attempt, outcome)
            pending = [action for action, _ in retry]

    def _send(self, pending: list[Action], attempt: int) -> list[dict[str, Any]] | None:
        """The per-item answers, or None after a retryable failure of the whole request (raises once out of tries)."""
        operations: list[dict[str, Any]] = []
        for action in pending:
            operations += [{"create": {"_index": action.index, "_id": action.doc_id}}, action.document]
        try:
            answers = self._client.bulk(operations)
        except SearchUnavailableError as err:
            problem = str(err)
        except SearchRefusedError as err:
            raise EsRequestError(
                f"{BACKEND_NAMES[self._client.backend]} at {self._target} refused the bulk request: {err}",
                status=err.status,
            ) from None
        else:
            if len(answers) != len(pending):
                raise EsRequestError(f"the server answered {len(answers)} bulk items for {len(pending)} documents")
            return answers
        if attempt >= self._max_retries:
            raise EsUnavailableError(
                f"{self._name} at {self._target} is unavailable after {attempt + 1} attempts ({problem}); "
                "the batch was not written and the invocation fails so that Lambda retries it"
            )
        return None

    def _next_attempt(self, attempt: int, outcome: BulkOutcome) -> int:
        """Sleep the backoff of this attempt (exponential, jittered) and count a retry."""
        delay = min(MAX_BACKOFF_S, self._backoff_s * 2**attempt) * random.uniform(0.5, 1.0)
        self._check_deadline(delay, "wait and retry")
        self._sleep(delay)
        outcome.retries += 1
        return attempt + 1

    def _check_deadline(self, wait_s: float, what: str) -> None:
        """DeadlineError unless `wait_s` plus one request (its timeout) and a margin fit in the invocation's time."""
        if self._remaining_s is None:
            return
        left = self._remaining_s()
        needed = wait_s + self._request_timeout_s + DEADLINE_MARGIN_S
        if left < needed:
            raise DeadlineError(
                f"{left:.1f} s of the invocation left, {needed:.1f} s needed to {what}: stopping so that the summary "
                "is logged and Lambda retries the batch (stored documents are not duplicated)"
            )


def _failure(action: Action, answer: dict[str, Any]) -> ItemFailure:
    error = answer.get("error")
    error_type = error.get("type", "unknown") if isinstance(error, dict) else "unknown"
    return ItemFailure(action.index, action.doc_id, int(answer.get("status", 0)), str(error_type), reason_of(error))
