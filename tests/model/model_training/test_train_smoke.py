"""A real (tiny) training run on CPU: loss goes down and every output of a run is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import lightning as L
import pytest
from omegaconf import DictConfig

from model_training import train as train_module
from tests.conftest import ROOT
from tests.support.smoke_config import compose_smoke
from tests.support.wandb_offline import logged_keys


class DropoutProbe(L.Callback):
    """Records whether the encoder was in train mode (dropout on) at each training batch."""

    def __init__(self) -> None:
        self.modes: list[bool] = []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self.modes.append(all(m.training for m in pl_module.model.modules()))


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, DropoutProbe]:
    out = tmp_path_factory.mktemp("smoke") / "run"
    cfg = compose_smoke(  # with the default logger: the test reads what W&B logged
        "config",
        out,
        "data.limit_train=32",
        "training.max_epochs=4",
        "training.early_stopping_patience=10",
        f"+data.extra_eval_files.ood={ROOT / 'data' / 'cola' / 'raw' / 'in_domain_dev.tsv'}",
        logger=True,
    )
    probe = DropoutProbe()
    result = train_module.train(cfg, extra_callbacks=[probe])
    return out, result, probe


def test_training_loss_goes_down(smoke_run: tuple[Path, dict, DropoutProbe]) -> None:
    _, result, _ = smoke_run
    losses = [row["train/loss_epoch"] for row in result["history"]]
    assert len(losses) == 4
    assert losses[-1] < losses[0]


def test_dropout_is_on_in_every_training_step(smoke_run: tuple[Path, dict, DropoutProbe]) -> None:
    _, _, probe = smoke_run
    assert probe.modes
    assert all(probe.modes)


def test_run_writes_checkpoint_model_metrics_and_plots(smoke_run: tuple[Path, dict, DropoutProbe]) -> None:
    out, result, _ = smoke_run
    assert (out / "checkpoints" / "best.ckpt").is_file()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (out / "model" / name).is_file()
    for name in ("confusion_matrix.png", "training_curves.png", "misclassified_validation.tsv"):
        assert (out / name).stat().st_size > 0
    written = json.loads((out / "metrics.json").read_text())
    assert written["best"]["val_mcc"] == pytest.approx(result["best"]["val_mcc"])
    assert set(written["eval"]["validation"]) >= {"mcc", "accuracy", "f1", "precision", "recall", "confusion_matrix"}
    assert sum(map(sum, written["eval"]["validation"]["confusion_matrix"])) == 32
    assert written["data"]["sha256"]["train"] == "f320a10f92d3bce6b29152fde322a362eac39238e50d8de0c8815457fdf4fc12"
    assert written["config"]["model"]["name"] == "minilm"
    assert written["config"]["data"]["limit_train"] == 32


def test_label_names_come_from_the_data_config(smoke_run: tuple[Path, dict, DropoutProbe]) -> None:
    out, result, _ = smoke_run
    written = json.loads((out / "metrics.json").read_text())
    assert written["labels"] == result["labels"] == ["unacceptable", "acceptable"]  # conf/data/cola.yaml
    model_config = json.loads((out / "model" / "config.json").read_text())
    assert model_config["id2label"] == {"0": "unacceptable", "1": "acceptable"}
    assert model_config["label2id"] == {"unacceptable": 0, "acceptable": 1}
    with (out / "misclassified_validation.tsv").open() as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle][1:]
    assert {row[1] for row in rows} | {row[2] for row in rows} <= set(written["labels"])


def test_evaluate_names_the_labels_the_model_was_trained_with(
    smoke_run: tuple[Path, dict, DropoutProbe], tmp_path: Path
) -> None:
    import shutil

    from model_training import evaluate

    out, _, _ = smoke_run
    run = Path(shutil.copytree(out, tmp_path / "run", ignore=shutil.ignore_patterns("checkpoints", "wandb")))
    dev = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"

    assert evaluate.main([str(run), f"dev={dev}"]) == 0
    assert json.loads((run / "evaluation.json").read_text())["dev"]["n"] == 527
    assert (run / "evaluation_dev.png").stat().st_size > 0


def test_extra_evaluation_files_are_reported_separately(smoke_run: tuple[Path, dict, DropoutProbe]) -> None:
    out, result, _ = smoke_run
    assert set(result["eval"]) == {"validation", "ood"}
    assert result["eval"]["ood"]["n"] == 527  # the whole file, not limited like the smoke validation split
    assert sum(map(sum, result["eval"]["ood"]["confusion_matrix"])) == 527
    assert (out / "confusion_matrix_ood.png").stat().st_size > 0
    assert "ood" in result["data"]["sha256"]


def test_best_checkpoint_is_the_best_validation_epoch(smoke_run: tuple[Path, dict, DropoutProbe]) -> None:
    _, result, _ = smoke_run
    best = max(row["val/mcc"] for row in result["history"])
    assert result["best"]["val_mcc"] == pytest.approx(best)
    assert result["eval"]["validation"]["mcc"] == pytest.approx(best, abs=1e-6)


def test_wandb_offline_run_has_metrics_plots_table_and_checkpoint(
    smoke_run: tuple[Path, dict, DropoutProbe],
) -> None:
    out, _, _ = smoke_run
    run_files = list((out / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(run_files) == 1
    keys = logged_keys(run_files[0])
    assert {"train/loss_step", "train/loss_epoch", "val/loss", "val/mcc", "val/accuracy", "val/f1"} <= keys["history"]
    assert {"val/precision", "val/recall"} <= keys["history"]
    assert "val/confusion_matrix/_type" in keys["history"]
    assert "val/misclassified/_type" in keys["history"]
    assert {"best/val_mcc", "eval/validation/mcc"} <= keys["summary"]
    assert {"training", "model", "data"} <= keys["config"]
    assert any(name.startswith("model:") for name in keys["artifact"]), keys["artifact"]


def test_invalid_config_fails_before_any_work(compose_config: Callable[..., DictConfig]) -> None:
    from model_training.config_schema import ConfigError

    with pytest.raises(ConfigError, match=r"training.lr must be > 0"):
        train_module.train(compose_config("training.lr=-1"))
