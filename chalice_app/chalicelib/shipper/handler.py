"""The log shipper: a CloudWatch Logs subscription event in, one Elasticsearch document per log line out.

ship() is the pure core (event, settings, client in; ShipResult out); Shipper keeps the per-process settings and
client of the ship_logs Lambda (built on the first invocation, the secret read once). log_records says which line
goes to which index family, es_writer how documents are written. Daily indices: <prefix>-YYYY.MM.DD, from the
document's @timestamp (the line's own timestamp when it has one).

Failure rule: a document Elasticsearch refuses for good (a mapping error: retrying cannot help) is stored in the
app-logs index instead, record_kind "unindexable", with the reason and the document itself; nothing is lost and
nothing is retried forever. The invocation raises, so that Lambda retries the whole batch and, after its retries,
hands it to the function's on-failure destination (or dead-letter queue), only for what may succeed later: the
event cannot be decoded, Elasticsearch stays unreachable, documents are still refused with 429/5xx after the
retries, or too little of the invocation is left for another attempt (Lambda's remaining time, checked before
each backoff and retry). A summary line is logged either way. Retrying is safe: documents already stored answer
409 and are counted as duplicates.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..contract.json_logging import log_event
from ..contract.log_line import ERROR_TYPE
from ..environment import SettingsError
from .cloudwatch import decode_event
from .es_writer import Action, BulkOutcome, BulkWriter, EsRequestError, EsUnavailableError, ItemFailure
from .log_records import APP_LOGS, FAMILIES, Record, records_of
from .search_api import BulkApi, connect
from .settings import ShipperSettings

SETTINGS_TTL_S = 900.0
"""A warm container reads its settings (and the API key's secret) again after this long: a rotated key reaches
every container within the TTL, and at once where Elasticsearch answers 401/403 (see Shipper.handle)."""
MAX_LOGGED_FAILURES = 50
"""Item failures logged one line each per invocation; the rest are counted in the summary."""


class ShipError(RuntimeError):
    """Some documents of the batch were not stored (rejected, or still refused after the retries)."""


@dataclass
class ShipResult:
    """What one invocation did (also written as the "ship_summary" log line)."""

    log_group: str = ""
    log_stream: str = ""
    control_message: bool = False
    events: int = 0
    documents: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAMILIES, 0))
    app_log_kinds: dict[str, int] = field(default_factory=dict)
    created: int = 0
    duplicates: int = 0
    failed: int = 0
    retries: int = 0
    requests: int = 0
    unindexable: int = 0
    stopped: str = ""
    refused_own_log_group: bool = False
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def index_name(prefix: str, moment: datetime) -> str:
    """The daily index of a document: <prefix>-YYYY.MM.DD (UTC)."""
    return f"{prefix}-{moment.astimezone(UTC):%Y.%m.%d}"


def ship(
    event: Any,
    settings: ShipperSettings,
    client: BulkApi,
    *,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    own_log_group: str | None = None,
    remaining_s: Callable[[], float] | None = None,
) -> ShipResult:
    """Decode, classify and index one subscription event; raises when anything was not stored (see module doc)."""
    started = time.perf_counter()
    payload = decode_event(event)
    result = ShipResult(payload.log_group, payload.log_stream, payload.is_control, len(payload.log_events))
    if own_log_group and payload.log_group == own_log_group:
        # Shipping the shipper's own lines would feed it forever: the subscription filter is on the wrong group.
        result.refused_own_log_group = True
        message = f"refused {len(payload.log_events)} events of the shipper's own log group {own_log_group}"
        log_event(ERROR_TYPE, logging.ERROR, request_id=None, code="misconfigured", message=message)
        return result
    moment = now or datetime.now(UTC)
    records = records_of(payload, moment)
    _count(records, result)
    actions = [Action(index_name(settings.prefix_of(r.family), r.timestamp), r.doc_id, r.document) for r in records]
    writer = BulkWriter(
        client,
        max_retries=settings.max_retries,
        backoff_s=settings.retry_backoff_s,
        target=settings.safe_url,
        sleep=sleep,
        remaining_s=remaining_s,
        request_timeout_s=settings.timeout_s,
    )
    outcome, fallback = BulkOutcome(), BulkOutcome()
    try:
        if actions:
            writer.write(actions, outcome)
        if outcome.rejected:  # refused for good: kept in app-logs with the reason instead
            by_id = {action.doc_id: action for action in actions}
            unindexable = [
                _unindexable(by_id[f.doc_id], f, index_name(settings.prefix_of(APP_LOGS), moment))
                for f in outcome.rejected
            ]
            writer.write(unindexable, fallback)
    except (EsUnavailableError, EsRequestError) as err:
        result.stopped = f"{type(err).__name__}: {err}"[:500]
        raise
    finally:
        _tally(result, outcome, fallback, started)
    failed = [*outcome.unresolved, *fallback.failed]
    _log_failures(outcome.rejected, "document_unindexable")
    _log_failures(failed, "document_not_stored")
    if failed:
        raise ShipError(_failure_message(failed, len(actions)))
    return result


def _tally(result: ShipResult, outcome: BulkOutcome, fallback: BulkOutcome, started: float) -> None:
    """Fill the result from both writes and log the summary line (also when a write raised)."""
    result.created, result.duplicates = outcome.created, outcome.duplicates
    result.unindexable = fallback.created + fallback.duplicates
    result.failed = len(outcome.unresolved) + len(fallback.failed)
    result.retries, result.requests = outcome.retries + fallback.retries, outcome.requests + fallback.requests
    result.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    log_event("ship_summary", logging.INFO, **result.as_dict())


def _unindexable(action: Action, failure: ItemFailure, index: str) -> Action:
    """An app-logs document keeping a refused document whole (in `line`, not indexed) with Elasticsearch's reason.
    Its time is the shipper's own ingest time: the refused document's may be what the mapping refused."""
    original = action.document
    document: dict[str, Any] = {
        "record_kind": "unindexable",
        "message": f"{failure.index}: {failure.status} {failure.error_type}",
        "reason": failure.reason,
        "line": original,
        "@timestamp": original.get("ingested_at"),
        **{k: original[k] for k in ("ingested_at", "log_group", "log_stream", "event_id") if k in original},
        **{k: original[k] for k in ("type", "request_id") if isinstance(original.get(k), str)},
    }
    return Action(index, f"{action.doc_id}-unindexable", document)


def _count(records: list[Record], result: ShipResult) -> None:
    result.documents.update(Counter(r.family for r in records))
    kinds = Counter(str(r.document.get("record_kind")) for r in records if r.family == APP_LOGS)
    result.app_log_kinds = dict(sorted(kinds.items()))


def _log_failures(failures: list[ItemFailure], code: str) -> None:
    for failure in failures[:MAX_LOGGED_FAILURES]:
        log_event(
            ERROR_TYPE,
            logging.ERROR,
            request_id=None,
            code=code,
            message=f"{failure.status} {failure.reason}",
            index=failure.index,
            doc_id=failure.doc_id,
            status=failure.status,
            error_type=failure.error_type,
        )


def _failure_message(failures: list[ItemFailure], total: int) -> str:
    types = Counter(f"{f.status} {f.error_type}" for f in failures)
    first = failures[0]
    return (
        f"{len(failures)} of {total} documents were not stored ({', '.join(f'{n}x {t}' for t, n in types.items())}); "
        f"first: {first.index}/{first.doc_id}: {first.reason}. The invocation fails so that Lambda retries the "
        "batch and then sends it to the on-failure destination; stored documents are not duplicated."
    )


def create_client(settings: ShipperSettings) -> BulkApi:
    """The configured backend's bulk endpoint (its client imported here: the API's cold start never pays for it)."""
    return connect(settings)


class Shipper:
    """The ship_logs Lambda's process state: settings and client, built by the first invocation."""

    def __init__(
        self,
        load_settings: Callable[[], ShipperSettings] = ShipperSettings.from_env,
        make_client: Callable[[ShipperSettings], BulkApi] = create_client,
        clock: Callable[[], float] = time.monotonic,
        ttl_s: float = SETTINGS_TTL_S,
    ) -> None:
        self._load_settings = load_settings
        self._make_client = make_client
        self._clock = clock
        self._ttl_s = ttl_s
        self.reset()

    def reset(self) -> None:
        """Forget settings and client: the next invocation reads the environment (and the secret) again."""
        self._settings: ShipperSettings | None = None
        self._client: BulkApi | None = None
        self._loaded_at = float("-inf")

    def _ready(self) -> tuple[ShipperSettings, BulkApi]:
        """Settings and client, (re)built when missing or older than the TTL."""
        if self._settings is None or self._client is None or self._clock() - self._loaded_at > self._ttl_s:
            try:
                settings = self._load_settings()
            except SettingsError as err:
                log_event(ERROR_TYPE, logging.ERROR, request_id=None, code="misconfigured", message=str(err))
                raise
            self._settings, self._client = settings, self._make_client(settings)
            self._loaded_at = self._clock()
        return self._settings, self._client

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        """Ship one subscription event within the invocation's time (Lambda's `context`); the summary is the
        Lambda's result."""
        own_group = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        remaining_s = (lambda: remaining() / 1000) if callable(remaining) else None
        settings, client = self._ready()
        try:
            return ship(event, settings, client, own_log_group=own_group, remaining_s=remaining_s).as_dict()
        except EsRequestError as err:
            if err.status not in (401, 403):
                raise
            # A rotated or revoked API key: read the settings (and the secret) again and try once more.
            log_event("credentials_refreshed", logging.WARNING, status=err.status)
            self.reset()
            settings, client = self._ready()
            return ship(event, settings, client, own_log_group=own_group, remaining_s=remaining_s).as_dict()


SHIPPER = Shipper()
"""The process's shipper (app.ship_logs calls it; tests reset it)."""


def handle(event: Any, context: Any = None) -> dict[str, Any]:
    """Entry point of the ship_logs Lambda."""
    return SHIPPER.handle(event, context)
