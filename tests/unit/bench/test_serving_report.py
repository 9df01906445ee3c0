"""The serving benchmark's bookkeeping: which round a row reports, the ratios per round, and the table (workers
are not started here; the benchmark itself runs with `make bench`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.serving import comparison, markdown, summarize


def full_run(p50: float, p99: float) -> dict[str, Any]:
    """What one worker process reports (the fields the report reads)."""
    return {
        "cold_start_s": 0.2,
        "p50_ms": p50,
        "p99_ms": p99,
        "batch32_sent_per_s": 800.0,
        "peak_rss_mib": 140.0,
        "dev_mcc": 0.45,
        "import_s": 0.1,
        "load_s": 0.1,
        "first_prediction_s": 0.003,
        "torch_imported": False,
    }


def plan(variant: str, tmp_path: Path) -> dict[str, Any]:
    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(b"x" * 1000)
    return {"variant": variant, "model": "minilm", "argv": [], "files": [model_file], "manifest_mcc": 0.45}


def test_a_row_is_the_round_with_the_median_p50_and_keeps_every_rounds_p50(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("bench.serving.ROOT", tmp_path)
    rounds = [full_run(1.3, 9.0), full_run(1.1, 2.0), full_run(1.2, 3.0)]
    row = summarize(plan("predictor int8", tmp_path), rounds, cold_repeats=0, threads=2)
    assert row["p50_ms"] == 1.2
    assert row["p99_ms"] == 3.0  # from the same process as the median p50, not a mix of rounds
    assert row["p50_ms_rounds"] == [1.3, 1.1, 1.2]


def test_ratios_are_given_per_round_as_well_as_for_the_median_rows(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("bench.serving.ROOT", tmp_path)
    int8 = summarize(plan("predictor int8", tmp_path), [full_run(1.0, 2), full_run(1.25, 2)], 0, 2)
    pipeline = summarize(plan("pipeline (torch)", tmp_path), [full_run(6.0, 9), full_run(5.0, 9)], 0, 2)
    result = comparison([int8, pipeline], "minilm")
    assert result["ratios"]["pipeline_p50_over_int8_rounds"] == [6.0, 4.0]
    assert result["ratios"]["pipeline_p50_over_int8"] == round(pipeline["p50_ms"] / int8["p50_ms"], 1)


def test_targets_fail_below_five_times_the_pipeline_and_the_table_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("bench.serving.ROOT", tmp_path)
    int8 = summarize(plan("predictor int8", tmp_path), [full_run(1.2, 2)], 0, 2)
    pipeline = summarize(plan("pipeline (torch)", tmp_path), [full_run(5.4, 9)], 0, 2)
    pipeline["cold_start_s"] = 3.0
    result = comparison([int8, pipeline], "minilm")
    assert result["targets"]["p50 >= 5x lower than the pipeline"] == "FAIL"  # 4.5x
    assert result["targets"]["cold start >= 10x faster than the pipeline"] == "PASS"  # 15x
    machine = {
        "threads": 2,
        "processor": "Intel(R) Xeon(R) Processor",
        "fingerprint": "fp-0123456789ab",
        "cpu_count": 2,
        "load_average_at_start": [0.1, 0.1, 0.1],
        "python": "3.11",
        "onnxruntime": "1",
        "torch": "2",
        "transformers": "5",
    }
    results = {
        "mode": "full",
        "runs": 300,
        "cold_repeats": 0,
        "rounds": 1,
        "dev_n": 527,
        "rows": [int8, pipeline],
        "comparisons": [result],
        "notes": [],
        "machine": machine,
    }
    table = markdown(results)
    assert "torch pipeline p50 / int8 p50 = **4.5x** (rounds: 4.5x)" in table
    assert "p50 >= 5x lower than the pipeline: **FAIL**" in table
    assert "Machine: Intel(R) Xeon(R) Processor (fp-0123456789ab), 2 CPUs" in table
