"""JSON lines on stdout: Lambda sends each stdout line to CloudWatch Logs, `chalice local` prints it."""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .log_line import ERROR_TYPE, LOG_SCHEMA_VERSION

_lock = threading.Lock()
_level = logging.INFO


def utc_timestamp(now: datetime | None = None) -> str:
    """ISO 8601 UTC with milliseconds and a Z: 2026-11-26T07:02:52.123Z."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_lines(records: Iterable[Mapping[str, Any]]) -> None:
    """Write each record as one JSON line (ASCII-escaped, so any text is safe on any stdout) and flush."""
    text = "".join(json.dumps(r, ensure_ascii=True, separators=(",", ":"), default=str) + "\n" for r in records)
    if text:
        with _lock:
            sys.stdout.write(text)
            sys.stdout.flush()


def set_level(name: str) -> None:
    """Threshold of diagnostic events (LOG_LEVEL); prediction lines are data and always written."""
    global _level
    level = logging.getLevelName(name.upper())
    _level = level if isinstance(level, int) else logging.INFO


def log_event(kind: str, level: int = logging.INFO, **fields: Any) -> None:
    """A diagnostic JSON line ({"type": kind, ...}) when `level` reaches LOG_LEVEL."""
    if level >= _level:
        record = {"log_schema": LOG_SCHEMA_VERSION, "type": kind, "timestamp": utc_timestamp()}
        write_lines([{**record, "level": logging.getLevelName(level), **fields}])


def log_error(code: str, message: str, request_id: str | None, *, with_traceback: bool = False) -> None:
    """An "error" line (bug or server-side condition), with the current exception's traceback if asked."""
    fields: dict[str, Any] = {"request_id": request_id, "code": code, "message": message}
    if with_traceback:
        fields["traceback"] = traceback.format_exc()
    log_event(ERROR_TYPE, logging.ERROR, **fields)
