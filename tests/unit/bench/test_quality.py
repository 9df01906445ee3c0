"""The quality ledger: runs identified by model, recipe, seed and machine; the report gives mean ± sd per model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.quality import add, main, record_from_run, report

MACHINE = {
    "cpu": {"model": "Intel(R) Xeon(R) Processor", "family_model_stepping": "6/167/1"},
    "torch": {"cpu_capability": "AVX512"},
    "fingerprint": "fp-0123456789ab",
}


def entry(model: str, seed: int, mcc: float, machine: str = "m1") -> dict[str, Any]:
    return {
        "model": model,
        "recipe": "default",
        "seed": seed,
        "dev_mcc": mcc,
        "dev_mcc_served": None,
        "machine": machine,
        "source": "test",
    }


def write_run(root: Path, name: str, mcc: float, seed: int = 42, served_mcc: float | None = None) -> Path:
    run = root / "runs" / name
    run.mkdir(parents=True)
    metrics = {"best": {"val_mcc": mcc}, "config": {"seed": seed, "run_name": name}, "machine": MACHINE}
    (run / "metrics.json").write_text(json.dumps(metrics))
    if served_mcc is not None:
        (root / "bundles").mkdir(exist_ok=True)
        evaluation = {
            "schema_version": 2,
            "model_version": "m-0123456789ab",
            "model_file": "model.int8.onnx",
            "splits": {"dev": {"mcc": served_mcc}},
            "behaviour": {"capabilities": {}},
            "gate": {"passed": True, "floors": {}},
        }
        (root / "bundles" / f"{name}-evaluation.json").write_text(json.dumps(evaluation))
    return run


def test_a_run_is_recorded_with_its_machine_and_served_figure(tmp_path: Path) -> None:
    record = record_from_run(write_run(tmp_path, "distilled-minilm", 0.45291, served_mcc=0.45687))
    assert record["model"] == "distilled-minilm"
    assert (record["seed"], record["dev_mcc"], record["dev_mcc_served"]) == (42, 0.4529, 0.4569)
    assert record["machine"] == "Intel(R) Xeon(R) Processor 6/167/1, torch AVX512"
    assert record["fingerprint"] == "fp-0123456789ab"


def test_recording_the_same_run_again_replaces_it_and_other_seeds_add_up() -> None:
    ledger = add([], entry("minilm", 42, 0.40))
    ledger = add(ledger, entry("minilm", 42, 0.41))  # same model, recipe, seed, machine: replaced
    ledger = add(ledger, entry("minilm", 42, 0.38, machine="m2"))  # another machine: a run of its own
    ledger = add(ledger, entry("minilm", 1, 0.44))
    assert sorted((e["seed"], e["machine"], e["dev_mcc"]) for e in ledger) == [
        (1, "m1", 0.44),
        (42, "m1", 0.41),
        (42, "m2", 0.38),
    ]


def test_the_report_gives_mean_and_sample_sd_per_model() -> None:
    table = report(
        [entry("minilm", 1, 0.40), entry("minilm", 2, 0.42), entry("minilm", 3, 0.44), entry("mpnet", 42, 0.59)]
    )
    assert "| minilm | 3 | 3 | 1 | 0.420 ± 0.020 | - |" in table
    assert "| mpnet | 1 | 1 | 1 | 0.590 (one run) | - |" in table


def test_a_run_without_a_machine_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path, "minilm", 0.4)
    metrics = json.loads((run / "metrics.json").read_text())
    del metrics["machine"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    code = main(["--ledger", str(tmp_path / "l.json"), "--out", str(tmp_path / "q.md"), "add", str(run)])
    assert code == 2
    assert "records no machine" in capsys.readouterr().err


def test_an_evaluation_of_the_older_format_is_refused_with_the_command_that_renews_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path, "minilm", 0.4, served_mcc=0.41)
    (tmp_path / "bundles" / "minilm-evaluation.json").write_text(json.dumps({"dev": {"mcc": 0.41}}))
    code = main(["--ledger", str(tmp_path / "l.json"), "--out", str(tmp_path / "q.md"), "add", str(run)])
    assert code == 2
    assert "make evaluate-bundle RUN=minilm" in capsys.readouterr().err


def test_a_variant_recorded_under_its_own_name_keeps_the_recipes_row(tmp_path: Path) -> None:
    ledger, out = tmp_path / "l.json", tmp_path / "q.md"
    recipe = write_run(tmp_path / "a", "distilled-minilm", 0.46)
    variant = write_run(tmp_path / "b", "distilled-minilm", 0.43)  # same run name, seed and machine
    assert main(["--ledger", str(ledger), "--out", str(out), "add", str(recipe)]) == 0
    assert main(["--ledger", str(ledger), "--out", str(out), "add", str(variant), "--as", "distilled-minilm-x"]) == 0
    rows = {(e["model"], e["dev_mcc"]) for e in json.loads(ledger.read_text())}
    assert rows == {("distilled-minilm", 0.46), ("distilled-minilm-x", 0.43)}


def test_one_name_for_several_runs_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = [str(write_run(tmp_path / d, "minilm", 0.4)) for d in ("a", "b")]
    code = main(["--ledger", str(tmp_path / "l.json"), "--out", str(tmp_path / "q.md"), "add", *runs, "--as", "x"])
    assert code == 2
    assert "--as names one run" in capsys.readouterr().err
