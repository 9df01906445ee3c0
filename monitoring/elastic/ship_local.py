"""Ship a local log (what `make serve` prints) to Elasticsearch through the real shipper, as CloudWatch would.

    python -m monitoring.elastic.ship_local --log serve.log --es-url http://localhost:9200     (or `make ship-local`)
    make serve | tee serve.log ;  ... ;  python -m monitoring.elastic.ship_local --log - < serve.log

Each line becomes a CloudWatch log event and every --batch-size events one subscription event (gzip + base64),
handed to chalicelib.shipper.handler.ship: the same decoding, classification, index names and bulk writes as the
ship_logs Lambda. Event ids derive from the log stream name, the line number and the line, and a line without a
timestamp takes the one of the JSON line before it, so shipping the same file again adds no document.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from chalice_app.chalicelib.contract import json_logging
from chalice_app.chalicelib.environment import SettingsError
from chalice_app.chalicelib.shipper import handler as shipper
from chalice_app.chalicelib.shipper.cloudwatch import LogEvent
from chalice_app.chalicelib.shipper.es_writer import EsRequestError, EsUnavailableError
from chalice_app.chalicelib.shipper.log_records import json_object, parse_timestamp
from chalice_app.chalicelib.shipper.settings import ShipperSettings
from devtools.cloudwatch_events import subscription_event

DEFAULT_LOG_GROUP = "/aws/lambda/cola-acceptability-local"
DEFAULT_BATCH_SIZE = 500


def event_id(stream: str, line_number: int, line: str) -> str:
    """A 56-digit id like CloudWatch's, fixed by the stream, the line number and the line."""
    digest = hashlib.sha256(f"{stream}\n{line_number}\n{line}".encode("utf-8", "surrogatepass")).digest()
    return f"{int.from_bytes(digest[:23], 'big'):056d}"


def log_events(lines: Iterable[str], stream: str, fallback_ms: int) -> Iterator[LogEvent]:
    """One event per non-blank line; its time is the line's timestamp, else the last one seen, else fallback_ms."""
    last_ms = fallback_ms
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        parsed = json_object(line)
        moment = parse_timestamp(parsed.get("timestamp")) if parsed else None
        if moment is not None:
            last_ms = int(moment.timestamp() * 1000)
        yield LogEvent(event_id(stream, number, line), last_ms, line + "\n")


def batches(events: Iterable[LogEvent], size: int) -> Iterator[list[LogEvent]]:
    batch: list[LogEvent] = []
    for event in events:
        batch.append(event)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def ship_lines(
    lines: Iterable[str],
    settings: ShipperSettings,
    *,
    log_group: str = DEFAULT_LOG_GROUP,
    log_stream: str = "local",
    batch_size: int = DEFAULT_BATCH_SIZE,
    fallback_ms: int | None = None,
) -> dict[str, Any]:
    """Ship every line; the totals of all invocations (raises what the shipper raises)."""
    client = shipper.create_client(settings)
    fallback = int(datetime.now(UTC).timestamp() * 1000) if fallback_ms is None else fallback_ms
    totals: dict[str, Any] = {"invocations": 0, "events": 0, "created": 0, "duplicates": 0, "documents": {}}
    for batch in batches(log_events(lines, log_stream, fallback), batch_size):
        result = shipper.ship(subscription_event(log_group, log_stream, batch), settings, client)
        totals["invocations"] += 1
        for key in ("events", "created", "duplicates"):
            totals[key] += getattr(result, key)
        for family, count in result.documents.items():
            totals["documents"][family] = totals["documents"].get(family, 0) + count
    prefixes = ",".join(f"{settings.prefix_of(f)}-*" for f in ("predictions", "platform", "app_logs"))
    client.client.indices.refresh(index=prefixes, allow_no_indices=True)  # searchable now, for the report that follows
    return totals


def _open(path: str) -> tuple[TextIO, str, int]:
    """The text stream, its log stream name and its fallback time (the file's mtime, or now for stdin)."""
    if path == "-":
        return sys.stdin, "local/stdin", int(datetime.now(UTC).timestamp() * 1000)
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no log file at {file}: write one with `make serve | tee {file}`")
    stream = file.open(encoding="utf-8", errors="replace", newline="")
    return stream, f"local/{file.name}", int(file.stat().st_mtime * 1000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", required=True, help="JSON-lines log file, or - for standard input")
    parser.add_argument("--es-url", default=os.environ.get("ES_URL"), help="endpoint (default: $ES_URL)")
    parser.add_argument("--log-group", default=DEFAULT_LOG_GROUP)
    parser.add_argument("--log-stream", help="default: local/<file name>")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="log events per invocation")
    parser.add_argument("--verbose", action="store_true", help="print the shipper's summary line per invocation")
    args = parser.parse_args(argv)
    if not args.es_url:
        parser.error("give --es-url URL or set ES_URL (e.g. http://localhost:9200)")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    json_logging.set_level("INFO" if args.verbose else "WARNING")
    try:
        settings = ShipperSettings.from_env({**os.environ, "ES_URL": args.es_url})
        stream, name, fallback_ms = _open(args.log)
        with stream:
            totals = ship_lines(
                stream,
                settings,
                log_group=args.log_group,
                log_stream=args.log_stream or name,
                batch_size=args.batch_size,
                fallback_ms=fallback_ms,
            )
    except (SettingsError, FileNotFoundError, EsUnavailableError, EsRequestError, shipper.ShipError) as err:
        print(f"ship-local: {err}", file=sys.stderr)
        return 1
    print(json.dumps(totals, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
