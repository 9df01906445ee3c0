"""The serving benchmark's bookkeeping: which round a row reports, the ratios per round, and the table (workers
are not started here; the benchmark itself runs with `make bench`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.serving import (
    README_END,
    README_START,
    comparison,
    markdown,
    readme_block,
    replace_readme_block,
    summarize,
)

MACHINE = {
    "threads": 2,
    "processor": "Intel(R) Xeon(R) Processor",
    "fingerprint": "fp-0123456789ab",
    "cpu_count": 2,
    "load_average_at_start": [0.2, 0.1, 0.1],
    "python": "3.11",
    "onnxruntime": "1",
    "torch": "2",
    "transformers": "5",
}


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
    machine = MACHINE
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


def test_the_issue_targets_seven_times_one_sentence_and_two_and_a_half_times_a_batch(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr("bench.serving.ROOT", tmp_path)
    int8 = summarize(plan("predictor int8", tmp_path), [full_run(0.78, 2)], 0, 2)
    int8["batch32_sent_per_s"] = 1200.0
    pipeline = summarize(plan("pipeline (torch)", tmp_path), [full_run(5.5, 9)], 0, 2)
    pipeline["batch32_sent_per_s"] = 500.0
    result = comparison([int8, pipeline], "minilm")
    assert result["ratios"]["int8_batch32_over_pipeline"] == 2.4
    assert result["targets"]["p50 >= 7x lower than the pipeline"] == "PASS"  # 7.1x
    assert result["targets"]["batch-32 throughput >= 2.5x the pipeline's"] == "FAIL"


def test_the_readme_block_replaces_only_the_text_between_its_markers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("bench.serving.ROOT", tmp_path)
    int8 = summarize(plan("predictor int8", tmp_path), [full_run(1.0, 2)], 0, 2)
    pipeline = summarize(plan("pipeline (torch)", tmp_path), [full_run(6.0, 9)], 0, 2)
    pipeline["batch32_sent_per_s"] = 400.0
    machine = MACHINE
    results = {
        "mode": "full",
        "rounds": 3,
        "rows": [int8, pipeline],
        "comparisons": [comparison([int8, pipeline], "minilm")],
        "machine": machine,
    }
    block = readme_block(results)
    assert "| minilm | 1.00 | 6.00 | **6.0x** | 800.0 | 400.0 | **2.0x** | 0.200 |" in block
    assert "Intel(R) Xeon(R) Processor (fp-0123456789ab), 2 CPUs, load average 0.2" in block
    readme = f"# Title\n\n{README_START}\nold table\n{README_END}\n\nafter\n"
    updated = replace_readme_block(readme, block)
    assert "old table" not in updated
    assert updated.startswith(f"# Title\n\n{README_START}\n| bundle |")
    assert updated.endswith(f"{README_END}\n\nafter\n")
    assert replace_readme_block(updated, block) == updated


def test_a_readme_without_the_markers_is_refused_with_the_lines_to_add() -> None:
    with pytest.raises(ValueError, match=r"bench\.serving: start"):
        replace_readme_block("# Title\n", "table")


def test_the_repository_readme_has_the_serving_block() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert "| x |" in replace_readme_block(readme, "| x |")
