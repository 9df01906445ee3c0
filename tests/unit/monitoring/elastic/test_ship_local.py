"""ship_local turns a local log into CloudWatch log events deterministically: the same file gives the same ids and
times (so shipping it twice adds nothing), and a line without a timestamp keeps its place in time."""

from __future__ import annotations

from datetime import UTC, datetime

from monitoring.elastic.ship_local import batches, event_id, log_events
from tests.support.cloudwatch_lines import T0, json_line, prediction_line

T0_MS = int(T0.timestamp() * 1000)


def test_event_ids_look_like_cloudwatchs_and_are_fixed_by_stream_line_and_text() -> None:
    first = event_id("local/serve.log", 1, "hello")
    assert len(first) == 56
    assert first.isdigit()
    assert event_id("local/serve.log", 1, "hello") == first
    assert len({first, event_id("local/serve.log", 2, "hello"), event_id("local/other.log", 1, "hello")}) == 3
    assert event_id("s", 1, "bad \ud800 half") != event_id("s", 1, "bad \ud801 half")


def test_each_non_blank_line_is_an_event_timed_by_the_last_json_timestamp() -> None:
    later = datetime(2026, 11, 26, 7, 3, 0, 500000, tzinfo=UTC)
    lines = [
        "Serving on http://127.0.0.1:8000\n",
        json_line(prediction_line(at=T0)),
        '127.0.0.1 - - [26/Nov/2026 07:02:52] "POST /predict HTTP/1.1" 200 -\n',
        "\n",
        "   \n",
        json_line(prediction_line(at=later)).rstrip("\n") + "\r\n",
    ]
    events = list(log_events(lines, "local/serve.log", fallback_ms=1_000))
    assert [e.timestamp_ms for e in events] == [1_000, T0_MS, T0_MS, int(later.timestamp() * 1000)]
    assert events[0].message == "Serving on http://127.0.0.1:8000\n"
    assert events[3].message.endswith("}\n")  # the \r is gone, the newline Lambda adds is there
    assert [e.id for e in events] == [event_id("local/serve.log", n, lines[n - 1].rstrip("\r\n")) for n in (1, 2, 3, 6)]


def test_batches_keep_order_and_size() -> None:
    events = list(log_events([f"line {n}\n" for n in range(7)], "s", 0))
    sizes = [len(b) for b in batches(events, 3)]
    assert sizes == [3, 3, 1]
    assert [e for b in batches(events, 3) for e in b] == events
    assert list(batches([], 3)) == []
