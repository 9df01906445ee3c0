"""Reading prediction records: a log file with junk lines (each counted, never dropped silently), the time window,
and the errors a user gets for a missing file or an unreachable Elasticsearch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devtools.processes import free_port
from monitoring.drift.config import load_config
from monitoring.drift.sources import (
    SourceError,
    TimeWindow,
    read_elasticsearch,
    read_log_file,
    redact_url,
    window_ending,
)
from tests.support.prediction_logs import log_lines, reference_predictions, write_log

START = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


@pytest.fixture
def junk_log(tmp_path: Path) -> Path:
    """What a real `make serve` stdout can hold around 5 prediction lines, and some worse."""
    good = log_lines(reference_predictions(n=5), "m-abc", start=START)
    invalid = {**good[0], "p_acceptable": "high"}
    path = write_log(
        tmp_path / "predictions.log",
        [
            "Serving on http://127.0.0.1:8000",
            good[0],
            "",
            '{"log_schema":1,"type":"error","timestamp":"2026-11-26T07:00:00.000Z","code":"internal_error"}',
            good[1],
            '{"type": "model_loaded", "model_version": "m-abc"}',
            "[1, 2, 3]",
            '{"truncated JSON": ',
            good[2],
            invalid,
            '{"no": "type"}',
            good[3],
            good[4],
        ],
    )
    with path.open("ab") as handle:
        handle.write(b"\xff\xfe not utf-8\n")
    return path


def test_junk_lines_are_skipped_and_counted(junk_log: Path) -> None:
    summary = read_log_file(junk_log)
    assert summary.read == 14
    assert len(summary.records) == 5
    assert summary.not_json == 5  # server chatter, blank line, a JSON array, broken JSON, bad UTF-8
    assert dict(summary.other_types) == {"error": 1, "model_loaded": 1, "<no type>": 1}
    assert summary.invalid == 1
    assert summary.problems == ["line 10: p_acceptable must be a number, got 'high'"]
    assert summary.skipped == 9
    assert summary.read == len(summary.records) + summary.skipped  # every line accounted for


def test_summary_dict_carries_every_count(junk_log: Path) -> None:
    data = read_log_file(junk_log).to_dict()
    assert data["predictions"] == 5
    assert data["skipped"] == {
        "not_json": 5,
        "other_types": {"<no type>": 1, "error": 1, "model_loaded": 1},
        "invalid_predictions": 1,
        "outside_window": 0,
    }
    json.dumps(data)


def test_a_window_keeps_its_records_and_counts_the_rest(tmp_path: Path) -> None:
    lines = log_lines(reference_predictions(n=10), "m-abc", start=START, step=timedelta(minutes=10))
    path = write_log(tmp_path / "p.log", lines)
    window = TimeWindow(START + timedelta(minutes=30), START + timedelta(minutes=70))  # 07:30 up to 07:70 excluded
    summary = read_log_file(path, window)
    assert [r.timestamp.minute for r in summary.records] == [30, 40, 50, 0]
    assert summary.outside_window == 6


def test_window_ending_now_is_exact_to_the_millisecond() -> None:
    window = window_ending(datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC), "2h")
    assert window.until == datetime(2026, 11, 26, 12, 0, 0, 123000, tzinfo=UTC)
    assert window.since == datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=UTC)


def test_a_missing_log_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"does not exist: run `make serve`.*LOG="):
        read_log_file(tmp_path / "nope.log")


def test_credentials_never_reach_the_report() -> None:
    assert redact_url("https://elastic:s3cret@es.example:9243/base?x=1") == "https://es.example:9243/base"
    assert redact_url("http://localhost:9200") == "http://localhost:9200"


def test_an_unreachable_elasticsearch_is_a_clear_error() -> None:
    """A real connection attempt to a loopback port nothing listens on."""
    url = f"http://elastic:s3cret@127.0.0.1:{free_port()}"
    window = window_ending(datetime.now(UTC), "1h")
    with pytest.raises(SourceError, match=r"cannot reach Elasticsearch at http://127\.0\.0\.1:\d+ .*ES_URL") as err:
        read_elasticsearch(url, None, load_config().elasticsearch, window)
    assert "s3cret" not in str(err.value)
