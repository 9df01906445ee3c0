"""The thread-layout benchmark's report: every measured layout becomes a row, with the machine and the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import thread_layout


def test_the_report_lists_each_layout_with_its_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thread_layout, "RESULTS", tmp_path)
    result = {
        "single": {
            "one sentence, 1 thread": {"p50_ms_per_round": [1.1, 1.2], "p10_ms": 1.0, "p50_ms": 1.15, "p90_ms": 1.4}
        },
        "batch": {
            "batch-32, 1 thread, two calls at a time": {
                "sentences_per_s_per_round": [1200, 1300],
                "median": 1250,
                "best": 1300,
            }
        },
    }
    machine = {
        "processor": "Test CPU",
        "cpu_count": 2,
        "fingerprint": "fp-0",
        "load_average_at_start": [0.1],
        "onnxruntime": "1.0",
    }
    thread_layout.write(result, machine, Path("b"), 2)
    report = (tmp_path / "thread_layout.md").read_text()
    assert "| 1 thread | 1.0 | 1.15 | 1.4 | 1.1, 1.2 |" in report
    assert "| 1 thread, two calls at a time | 1250 | 1300 | 1200, 1300 |" in report
    assert "--bundle b --rounds 2" in report
    assert "Test CPU, 2 CPUs (fp-0)" in report
    assert json.loads((tmp_path / "thread_layout.json").read_text())["machine"] == machine
