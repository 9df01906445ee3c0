"""Specification of summarize_sweep: rank the jobs of a Hydra multirun by a metric from metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_training.sweep import summarize_sweep

METRIC = "best/val_mcc"


def make_job(sweep_dir: Path, num: int, metrics: dict, overrides: list[str] | None) -> Path:
    job = sweep_dir / str(num)
    job.mkdir(parents=True)
    (job / "metrics.json").write_text(json.dumps(metrics))
    if overrides is not None:
        (job / ".hydra").mkdir()
        (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    return job


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    sweep = tmp_path / "sweep"
    make_job(sweep, 0, {"best": {"val_mcc": 0.41}}, ["training.lr=1e-5"])
    make_job(sweep, 1, {"best": {"val_mcc": 0.55}}, ["training.lr=3e-5"])
    make_job(sweep, 2, {"best": {"val_mcc": 0.48}}, ["training.lr=5e-5"])
    return sweep


def test_ranks_runs_best_first_and_names_the_best(sweep_dir: Path) -> None:
    summary = summarize_sweep(sweep_dir, METRIC)

    assert summary["metric"] == METRIC
    assert [run[METRIC] for run in summary["runs"]] == [0.55, 0.48, 0.41]
    assert summary["best"]["dir"] == str(sweep_dir / "1")
    assert summary["best"][METRIC] == 0.55


def test_each_run_carries_its_hydra_overrides(sweep_dir: Path) -> None:
    summary = summarize_sweep(sweep_dir, METRIC)
    overrides = {Path(run["dir"]).name: run["overrides"] for run in summary["runs"]}

    # one entry per override; the substring check tolerates the YAML list marker ("- ") being kept
    assert [len(overrides[job]) for job in ("0", "1", "2")] == [1, 1, 1]
    assert "training.lr=1e-5" in overrides["0"][0]
    assert "training.lr=3e-5" in summary["best"]["overrides"][0]


def test_default_metric_is_best_val_mcc(sweep_dir: Path) -> None:
    assert summarize_sweep(sweep_dir)["best"]["dir"] == str(sweep_dir / "1")


@pytest.mark.parametrize(
    "metrics",
    [
        pytest.param({"best": {"val_loss": 0.3}}, id="other-key"),
        pytest.param({"final": {"val_mcc": 0.99}}, id="other-section"),
        pytest.param({}, id="empty"),
    ],
)
def test_a_job_without_the_metric_is_skipped(sweep_dir: Path, metrics: dict) -> None:
    make_job(sweep_dir, 3, metrics, ["training.lr=1e-4"])

    summary = summarize_sweep(sweep_dir, METRIC)

    assert len(summary["runs"]) == 3
    assert str(sweep_dir / "3") not in {run["dir"] for run in summary["runs"]}
    assert summary["best"]["dir"] == str(sweep_dir / "1")


def test_a_job_without_overrides_file_has_no_overrides(tmp_path: Path) -> None:
    make_job(tmp_path, 0, {"best": {"val_mcc": 0.3}}, overrides=None)

    assert summarize_sweep(tmp_path, METRIC)["best"]["overrides"] == []


def test_a_negative_metric_still_ranks(tmp_path: Path) -> None:
    make_job(tmp_path, 0, {"best": {"val_mcc": -0.1}}, [])
    make_job(tmp_path, 1, {"best": {"val_mcc": 0.0}}, [])

    summary = summarize_sweep(tmp_path, METRIC)

    assert summary["best"]["dir"] == str(tmp_path / "1")
    assert [run[METRIC] for run in summary["runs"]] == [0.0, -0.1]


def test_an_empty_sweep_has_no_best(tmp_path: Path) -> None:
    assert summarize_sweep(tmp_path, METRIC) == {"metric": METRIC, "best": None, "runs": []}


def test_other_metrics_can_rank(sweep_dir: Path) -> None:
    make_job(sweep_dir, 3, {"best": {"val_mcc": 0.1, "val_accuracy": 0.9}}, [])

    summary = summarize_sweep(sweep_dir, "best/val_accuracy")

    assert [run["dir"] for run in summary["runs"]] == [str(sweep_dir / "3")]
