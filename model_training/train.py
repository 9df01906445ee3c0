"""Fine-tune an encoder on CoLA: `python -m model_training.train [overrides]` (Hydra, conf/config.yaml).

The config names what is built: the encoder (`model=minilm|mpnet`, with its recipe), the LightningModule (`module`)
and the datamodule (`data.datamodule`). Whole runs: `experiment=teacher|student|distill`; the seconds-long run of
the tests: `debug=smoke`; the learning-rate sweep: `-m hparams_search=lr`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import hydra
import lightning as L
import matplotlib.pyplot as plt
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from model_training.callbacks import HistoryRecorder, WandbValidationReport, misclassified_rows, write_history_csv
from model_training.config_schema import check_config
from model_training.data.cola import sha256_file
from model_training.data.datamodule import ColaDataModule
from model_training.distributed import is_rank_zero
from model_training.machine import machine_description, machine_line
from model_training.models.classifier import AcceptabilityClassifier, predict_probabilities
from model_training.models.metrics import classification_metrics, confusion_matrix
from model_training.models.pretrained import pretrained_spec, resolve_pretrained
from model_training.plots import confusion_matrix_figure, training_curves_figure

log = logging.getLogger(__name__)


def build_logger(cfg: DictConfig) -> Logger | bool:
    """Instantiate the configured logger, or False for logger=none."""
    if cfg.logger.get("_target_") is None:
        return False
    if "wandb" in str(cfg.logger._target_).lower():
        os.environ.setdefault("WANDB_SILENT", "true")
    return instantiate(cfg.logger)


def evaluate_split(model: AcceptabilityClassifier, datamodule: ColaDataModule, split: str) -> dict[str, Any]:
    """Metrics, confusion matrix and probabilities of the model on one split."""
    probs = predict_probabilities(model, datamodule.split_dataloader(split))
    labels = datamodule.labels(split)

    gold = torch.as_tensor(labels)
    metrics = {
        k.split("/", 1)[1]: float(v) for k, v in classification_metrics(split).to(probs.device)(probs, gold).items()
    }
    matrix = confusion_matrix()(probs, gold).tolist()
    return {"metrics": metrics, "confusion_matrix": matrix, "n": len(labels), "probs": probs}


def build_datamodule(
    cfg: DictConfig, tokenizer: PreTrainedTokenizerBase, splits: datasets.DatasetDict
) -> ColaDataModule:
    """The LightningDataModule the data config names (`data.datamodule`), over these splits."""
    datamodule: ColaDataModule = instantiate(cfg.data.datamodule, _partial_=True)(tokenizer=tokenizer, splits=splits)
    return datamodule


def build_module(cfg: DictConfig, model_dir: str) -> AcceptabilityClassifier:
    """The LightningModule the config names (`module`: conf/module/), on the resolved encoder directory."""
    module: AcceptabilityClassifier = instantiate(cfg.module, model_dir=model_dir, _convert_="all")
    return module


SplitsTransform = Callable[[datasets.DatasetDict], datasets.DatasetDict]


def train(
    cfg: DictConfig,
    extra_callbacks: list[L.Callback] | None = None,
    *,
    transform_splits: SplitsTransform | None = None,
    extra_result: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run one training job; returns the content written to metrics.json.

    The config names the module and the datamodule (`module`, `data.datamodule`). Distillation
    (model_training.distill) reuses this loop: its experiment swaps in the distilled module, and it passes the
    training split extended with the transfer set and the teacher's logits, and an extra section for metrics.json.
    Under DDP (trainer=ddp_cpu, trainer=ddp) every process trains; only rank 0 evaluates and writes the outputs,
    the others return just their rank and the best validation MCC.
    """
    check_config(cfg)
    started = time.time()
    L.seed_everything(cfg.seed, workers=True)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if is_rank_zero():  # DDP's other processes run this too, in the same directory: only rank 0 touches outputs
        for stale in ("checkpoints", "model"):  # a rerun of the same run name replaces, never mixes, its outputs
            shutil.rmtree(out / stale, ignore_errors=True)

    model_dir = resolve_pretrained(pretrained_spec(cfg.model), cfg.paths.pretrained_cache)
    log.info("encoder %s from %s", cfg.model.name, model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    splits = ColaDataModule.load_config_splits(cfg.data)
    if transform_splits is not None:
        splits = transform_splits(splits)
    datamodule = build_datamodule(cfg, tokenizer, splits)
    module = build_module(cfg, str(model_dir))
    label_names = [str(name) for name in cfg.data.labels]

    logger = build_logger(cfg)
    checkpoint = ModelCheckpoint(
        dirpath=out / "checkpoints",
        filename="best",
        monitor=cfg.training.monitor,
        mode="max",
        save_top_k=1,
        save_weights_only=True,  # 90 MB instead of 270 MB with AdamW state; runs are not resumed
        auto_insert_metric_name=False,
    )
    history = HistoryRecorder()
    callbacks: list[L.Callback] = [
        checkpoint,
        EarlyStopping(monitor=cfg.training.monitor, mode="max", patience=cfg.training.early_stopping_patience),
        history,
        WandbValidationReport(label_names),
        *(extra_callbacks or []),
    ]
    trainer: L.Trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks, default_root_dir=str(out))
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if isinstance(logger, Logger):
        logger.log_hyperparams(resolved)  # type: ignore[arg-type]

    trainer.fit(module, datamodule=datamodule)
    train_seconds = time.time() - started
    if not trainer.is_global_zero:  # the checkpoint is rank 0's; evaluation, model and metrics.json too
        log.info("rank %d done; rank 0 writes the outputs", trainer.global_rank)
        return {"rank": trainer.global_rank, "best": {"val_mcc": _best_score(checkpoint)}}

    best = type(module).load_from_checkpoint(checkpoint.best_model_path, map_location="cpu")
    evaluations = {split: evaluate_split(best, datamodule, split) for split in datamodule.eval_split_names}
    best_epoch = max(history.history, key=lambda row: row.get(cfg.training.monitor, float("-inf")))

    model_out = out / "model"
    best.model.save_pretrained(model_out)
    tokenizer.save_pretrained(model_out)

    result: dict[str, Any] = {
        "run_name": cfg.run_name,
        "labels": label_names,
        "model": {"name": cfg.model.name, "source": str(model_dir), "sha256": cfg.model.sha256},
        "best": {
            "epoch": int(best_epoch["epoch"]),
            "val_mcc": _best_score(checkpoint),
            "checkpoint": str(Path(checkpoint.best_model_path).relative_to(out)),
        },
        "final": history.history[-1] if history.history else {},
        "history": history.history,
        "eval": {
            split: {"n": ev["n"], **ev["metrics"], "confusion_matrix": ev["confusion_matrix"]}
            for split, ev in evaluations.items()
        },
        "data": _data_checksums(cfg),
        "timing": {"train_seconds": round(train_seconds, 1), "epochs": len(history.history)},
        "devices": _devices(trainer),
        "machine": machine_description(),
        "config": resolved,
        **(extra_result() if extra_result is not None else {}),
    }
    _write_outputs(out, result, evaluations, datamodule, logger)
    log.info("best val MCC %.4f at epoch %d; outputs in %s", result["best"]["val_mcc"], result["best"]["epoch"], out)
    log.info("trained on %s", machine_line(result["machine"]))
    return result


def _best_score(checkpoint: ModelCheckpoint) -> float:
    return float("nan") if checkpoint.best_model_score is None else float(checkpoint.best_model_score)


def _devices(trainer: L.Trainer) -> dict[str, Any]:
    """How the run was spread: accelerator, processes, DDP's process-group backend (None on one process)."""
    return {
        "accelerator": type(trainer.accelerator).__name__.removesuffix("Accelerator").lower(),
        "world_size": trainer.world_size,
        "strategy": type(trainer.strategy).__name__,
        "backend": getattr(trainer.strategy, "process_group_backend", None) if trainer.world_size > 1 else None,
    }


def _data_checksums(cfg: DictConfig) -> dict[str, Any]:
    if cfg.data.source != "local":
        return {"source": cfg.data.source, "hub_id": cfg.data.hub_id, "hub_config": cfg.data.hub_config}
    files = {"train": cfg.data.train_file, "validation": cfg.data.validation_file, **cfg.data.extra_eval_files}
    return {"source": "local", "sha256": {split: sha256_file(path) for split, path in files.items()}}


def _write_outputs(
    out: Path,
    result: dict[str, Any],
    evaluations: dict[str, dict[str, Any]],
    datamodule: ColaDataModule,
    logger: Logger | bool,
) -> None:
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    write_history_csv(out / "history.csv", result["history"])
    figures = {}
    for split, ev in evaluations.items():
        fig = confusion_matrix_figure(ev["confusion_matrix"], result["labels"], f"{result['run_name']}: {split}")
        suffix = "" if split == "validation" else f"_{split}"
        fig.savefig(out / f"confusion_matrix{suffix}.png")
        figures[f"eval/{split}/confusion_matrix"] = fig
    curves = training_curves_figure(result["history"], result["run_name"])
    curves.savefig(out / "training_curves.png")
    validation = evaluations["validation"]
    rows = misclassified_rows(
        datamodule.sentences("validation"), datamodule.labels("validation"), validation["probs"], result["labels"]
    )
    with (out / "misclassified_validation.tsv").open("w", encoding="utf-8") as handle:
        handle.write("sentence\tgold\tpredicted\tscore\n")
        handle.writelines("\t".join(str(c) for c in row) + "\n" for row in rows)
    if isinstance(logger, WandbLogger):
        summary = {f"best/{k}": v for k, v in result["best"].items() if k != "checkpoint"}
        for split, ev in evaluations.items():
            summary.update({f"eval/{split}/{k}": v for k, v in ev["metrics"].items()})
        logger.experiment.summary.update(summary)
        logger.log_image(key="eval/confusion_matrix", images=list(figures.values()), caption=list(figures))
        logger.experiment.finish()
    for fig in [*figures.values(), curves]:
        plt.close(fig)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Hydra entry point; returns best validation MCC (what sweeps optimise).

    experiment=distill (what conf/distill.yaml selects) runs the distillation, as model_training.distill does.
    """
    if "distill" in cfg:
        from model_training.distill import distill  # distill imports this module

        return float(distill(cfg)["best"]["val_mcc"])
    return float(train(cfg)["best"]["val_mcc"])


if __name__ == "__main__":
    main()
