"""Where the student starts: the pretrained encoder by default, or a fine-tuned run's model pinned by its hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from model_training.distillation.student_init import StudentInitError, start_from_run


def fake_run(runs_dir: Path, name: str, encoder: str = "minilm") -> Path:
    """A finished run's layout: model/ (config and weights) and metrics.json."""
    model = runs_dir / name / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights of " + name.encode())
    best = {"epoch": 3, "val_mcc": 0.41, "checkpoint": "checkpoints/best.ckpt"}
    metrics = {"model": {"name": encoder}, "best": best, "machine": {"fingerprint": "fp-test"}}
    (runs_dir / name / "metrics.json").write_text(json.dumps(metrics))
    return runs_dir / name


@pytest.fixture
def distill_config(compose_config: Callable[..., DictConfig], tmp_path: Path) -> Callable[..., DictConfig]:
    def _config(*overrides: str) -> DictConfig:
        return compose_config(f"distill.runs_dir={tmp_path / 'runs'}", *overrides, config_name="distill")

    return _config


def test_by_default_the_student_starts_from_its_pretrained_encoder(distill_config: Callable[..., DictConfig]) -> None:
    cfg = distill_config()
    before = dict(cfg.model)
    assert start_from_run(cfg) is None
    assert dict(cfg.model) == before


def test_a_named_run_becomes_the_encoder_pinned_by_its_weights(
    distill_config: Callable[..., DictConfig], tmp_path: Path
) -> None:
    run_dir = fake_run(tmp_path / "runs", "minilm")
    cfg = distill_config("distill.student_init=minilm")
    record = start_from_run(cfg)
    expected = hashlib.sha256(b"weights of minilm").hexdigest()
    assert cfg.model.path == str(run_dir / "model")
    assert cfg.model.sha256 == expected
    assert record == {
        "run_name": "minilm",
        "weights_sha256": expected,
        "best": {"epoch": 3, "val_mcc": 0.41, "checkpoint": "checkpoints/best.ckpt"},
        "fingerprint": "fp-test",
    }


@pytest.mark.parametrize("missing", ["model/model.safetensors", "model/config.json", "metrics.json"])
def test_an_incomplete_run_is_refused_with_the_command_that_makes_it(
    distill_config: Callable[..., DictConfig], tmp_path: Path, missing: str
) -> None:
    run_dir = fake_run(tmp_path / "runs", "minilm")
    (run_dir / missing).unlink()
    with pytest.raises(StudentInitError, match=rf"has no {missing}.*make train RUN=minilm"):
        start_from_run(distill_config("distill.student_init=minilm"))


def test_a_run_that_does_not_exist_is_refused(distill_config: Callable[..., DictConfig]) -> None:
    with pytest.raises(StudentInitError, match="student_init=null"):
        start_from_run(distill_config("distill.student_init=nowhere"))


def test_a_run_of_another_encoder_is_refused(distill_config: Callable[..., DictConfig], tmp_path: Path) -> None:
    fake_run(tmp_path / "runs", "mpnet", encoder="mpnet")
    with pytest.raises(StudentInitError, match="fine-tuned 'mpnet', not the student's encoder 'minilm'"):
        start_from_run(distill_config("distill.student_init=mpnet"))
