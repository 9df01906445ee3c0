"""Where prediction records come from: a JSON-lines log file (what `make serve` prints), Elasticsearch or OpenSearch.

Nothing is dropped silently: every line or document read is either a record or counted under a reason (not JSON,
another line type, an invalid prediction, outside the window), and the first problems are kept with their line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from chalice_app.chalicelib.shipper.search_api import NOT_ELASTICSEARCH
from chalice_app.chalicelib.shipper.settings import ShipperSettings
from monitoring.drift.config import ElasticsearchSettings, parse_duration
from monitoring.drift.records import RECORD_FIELDS, PredictionRecord, RecordError, is_prediction, parse_record

MAX_PROBLEMS = 10
PIT_KEEP_ALIVE = "2m"


class SourceError(RuntimeError):
    """The records cannot be read at all: a missing file, an unreachable or refusing Elasticsearch."""


@dataclass(frozen=True)
class TimeWindow:
    """Records with since <= timestamp < until."""

    since: datetime
    until: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.since <= moment < self.until

    def to_dict(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}


def window_ending(until: datetime, duration: str) -> TimeWindow:
    """The `duration` before `until`, to the millisecond (the precision of the log and of the Elasticsearch query)."""
    until = until.replace(microsecond=until.microsecond // 1000 * 1000)
    return TimeWindow(until - parse_duration(duration), until)


@dataclass
class SourceSummary:
    """The records of one source and the tally of everything else it held."""

    kind: str
    location: str
    window: TimeWindow | None
    read: int = 0
    records: list[PredictionRecord] = field(default_factory=list)
    not_json: int = 0
    other_types: Counter[str] = field(default_factory=Counter)
    invalid: int = 0
    outside_window: int = 0
    problems: list[str] = field(default_factory=list)
    in_window: int | None = None  # Elasticsearch: documents the window held (the read may stop at max_records)

    def take(self, obj: Any, where: str) -> None:
        """Sort one decoded JSON value into a record or a counted reason."""
        if not isinstance(obj, dict):
            self.not_json += 1
            return
        if not is_prediction(obj):
            self.other_types[str(obj.get("type", "<no type>"))] += 1
            return
        try:
            record = parse_record(obj)
        except RecordError as err:
            self.invalid += 1
            if len(self.problems) < MAX_PROBLEMS:
                self.problems.append(f"{where}: {err}")
            return
        if self.window is not None and record.timestamp not in self.window:
            self.outside_window += 1
            return
        self.records.append(record)

    @property
    def skipped(self) -> int:
        return self.not_json + sum(self.other_types.values()) + self.invalid + self.outside_window

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": self.location,
            "window": self.window.to_dict() if self.window else None,
            "read": self.read,
            "in_window": self.in_window,
            "predictions": len(self.records),
            "skipped": {
                "not_json": self.not_json,
                "other_types": dict(sorted(self.other_types.items())),
                "invalid_predictions": self.invalid,
                "outside_window": self.outside_window,
            },
            "problems": list(self.problems),
        }


def read_log_file(path: Path, window: TimeWindow | None = None) -> SourceSummary:
    """Every line of a JSON-lines log; lines that are not JSON objects (e.g. "Serving on ...") are counted."""
    if not path.is_file():
        raise SourceError(
            f"log file {path} does not exist: run `make serve` (it appends its prediction lines there) "
            "or pass LOG=/path/to/file (--log)"
        )
    summary = SourceSummary("log_file", str(path), window)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            summary.read += 1
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                summary.not_json += 1
                continue
            summary.take(obj, f"line {number}")
    return summary


def redact_url(url: str) -> str:
    """The URL without user:password, for reports and messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def read_elasticsearch(
    url: str,
    api_key: str | None,
    settings: ElasticsearchSettings,
    window: TimeWindow,
    connection: ShipperSettings | None = None,
) -> SourceSummary:
    """The window's prediction documents, newest first (so max_records keeps the most recent), by search_after
    over a point in time: a consistent view while paging, without the deep-paging limit of from/size.

    `connection` (the shipper's settings: backend and credentials) defaults to Elasticsearch at `url` with
    `api_key`; with SEARCH_BACKEND=opensearch the same read goes through opensearch-py (OpenSearch's point-in-time
    API has other paths and bodies, its search the same query, sort and search_after)."""
    connection = connection or ShipperSettings(es_url=url, api_key=api_key)
    connection = dataclasses.replace(connection, timeout_s=settings.timeout_s)
    reader: _Reader = _OpenSearchReader(connection) if connection.backend == "opensearch" else _Reader(connection)
    location = f"{redact_url(url)}/{settings.index}"
    summary = SourceSummary(reader.kind, location, window)
    since, until = (moment.isoformat(timespec="milliseconds") for moment in (window.since, window.until))
    query = {"range": {"@timestamp": {"gte": since, "lt": until}}}
    try:
        with reader.errors(url, settings.index):
            summary.in_window = reader.count(settings.index, query)
            if summary.in_window:
                _page_through(reader, settings, query, summary)
    finally:
        reader.client.close()
    return summary


class _Reader:
    """The reads through the elasticsearch client."""

    kind = "elasticsearch"
    name = "Elasticsearch"

    def __init__(self, connection: ShipperSettings) -> None:
        from chalice_app.chalicelib.shipper.elasticsearch_api import elasticsearch_client

        self.client: Any = elasticsearch_client(connection, max_retries=1)

    @contextlib.contextmanager
    def errors(self, url: str, index: str) -> Iterator[None]:
        """The client's errors as SourceError saying what to check."""
        import elasticsearch

        try:
            yield
        except elasticsearch.ConnectionError as err:
            raise self.unreachable(url, err.message) from err
        except elasticsearch.UnsupportedProductError as err:
            raise SourceError(f"cannot use {redact_url(url)}: {NOT_ELASTICSEARCH}") from err
        except elasticsearch.AuthenticationException as err:
            raise self.refused(url, index) from err
        except elasticsearch.ApiError as err:
            if err.meta.status == 406:  # OpenSearch refuses the client's compatible-with media type
                raise SourceError(f"cannot use {redact_url(url)}: {NOT_ELASTICSEARCH}") from err
            raise SourceError(f"{self.name} at {redact_url(url)} answered {err.meta.status}: {err.message}") from err

    def unreachable(self, url: str, why: str) -> SourceError:
        return SourceError(
            f"cannot reach {self.name} at {redact_url(url)} ({why}): check --es-url (ES_URL) and that "
            "the cluster is up and reachable from here"
        )

    def refused(self, url: str, index: str) -> SourceError:
        return SourceError(
            f"{self.name} at {redact_url(url)} refused the credentials (401): set ES_API_KEY (ES_AUTH and its "
            f"variables for OpenSearch) to credentials that may read {index}"
        )

    def count(self, index: str, query: dict[str, Any]) -> int:
        return int(self.client.count(index=index, query=query)["count"])

    def open(self, index: str) -> str:
        pit_id: str = self.client.open_point_in_time(index=index, keep_alive=PIT_KEEP_ALIVE)["id"]
        return pit_id

    def page(self, pit_id: str, query: dict[str, Any], size: int, after: list[Any] | None) -> dict[str, Any]:
        page: dict[str, Any] = self.client.search(
            pit={"id": pit_id, "keep_alive": PIT_KEEP_ALIVE},
            query=query,
            sort=[{"@timestamp": {"order": "desc"}}],
            size=size,
            track_total_hits=False,
            source_includes=list(RECORD_FIELDS),  # what parse_record reads, not the whole document
            **({"search_after": after} if after else {}),
        )
        return page

    def close_pit(self, pit_id: str) -> None:
        self.client.close_point_in_time(id=pit_id)


class _OpenSearchReader(_Reader):
    """The same reads through opensearch-py."""

    kind = "opensearch"
    name = "OpenSearch"

    def __init__(self, connection: ShipperSettings) -> None:
        from chalice_app.chalicelib.shipper.opensearch_api import opensearch_client

        self.client = opensearch_client(connection, max_retries=1)

    @contextlib.contextmanager
    def errors(self, url: str, index: str) -> Iterator[None]:
        import opensearchpy

        try:
            yield
        except opensearchpy.ConnectionError as err:
            raise self.unreachable(url, str(err.info or err.error)) from err
        except opensearchpy.AuthenticationException as err:
            raise self.refused(url, index) from err
        except opensearchpy.TransportError as err:
            raise SourceError(f"OpenSearch at {redact_url(url)} answered {err.status_code}: {err.error}") from err

    def count(self, index: str, query: dict[str, Any]) -> int:
        return int(self.client.count(index=index, body={"query": query})["count"])

    def open(self, index: str) -> str:
        pit_id: str = self.client.create_pit(index=index, params={"keep_alive": PIT_KEEP_ALIVE})["pit_id"]
        return pit_id

    def page(self, pit_id: str, query: dict[str, Any], size: int, after: list[Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "pit": {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE},
            "query": query,
            "sort": [{"@timestamp": {"order": "desc"}}],
            "size": size,
            "track_total_hits": False,
            "_source": {"includes": list(RECORD_FIELDS)},
        }
        if after:
            body["search_after"] = after
        page: dict[str, Any] = self.client.search(body=body)
        return page

    def close_pit(self, pit_id: str) -> None:
        self.client.delete_pit(body={"pit_id": [pit_id]})


def _page_through(
    reader: _Reader, settings: ElasticsearchSettings, query: dict[str, Any], summary: SourceSummary
) -> None:
    pit_id = reader.open(settings.index)
    after: list[Any] | None = None
    try:
        while summary.read < settings.max_records:
            page = reader.page(pit_id, query, min(settings.page_size, settings.max_records - summary.read), after)
            pit_id = page.get("pit_id", pit_id)
            hits = page["hits"]["hits"]
            if not hits:
                break
            for hit in hits:
                summary.read += 1
                summary.take(hit.get("_source"), f"document {hit.get('_index')}/{hit.get('_id')}")
            after = hits[-1]["sort"]
    finally:
        with contextlib.suppress(Exception):  # a point in time left open expires after its keep_alive anyway
            reader.close_pit(pit_id)
