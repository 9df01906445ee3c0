"""Distil a fine-tuned teacher into a small student: `python -m model_training.distill [overrides]` (conf/distill.yaml,
which selects experiment=distill).

The transfer set is the training sentences plus perturbed copies (distillation/transfer_set.py), and WordNet usage
examples when asked (distillation/wordnet_examples.py); the teacher's logits on all of them, and its classifier-head
features for feature matching, are computed once and cached (distillation/teacher_logits.py). The student trains
with the ordinary loop (model_training.train) and the module the experiment names (conf/module/distilled.yaml: the
mixed soft/gold loss and the feature loss of distillation/loss.py); metrics.json gets a `distillation` section with
the teacher's version and metrics, which the export copies into the bundle manifest.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import datasets
import hydra
import lightning as L
import numpy as np
from omegaconf import DictConfig

from chalice_app.chalicelib.contract.manifest import load_manifest
from model_training.distillation.loss import NO_LABEL
from model_training.distillation.neighbours import embedding_neighbours
from model_training.distillation.student_init import start_from_run
from model_training.distillation.teacher_engine import EngineSettings
from model_training.distillation.teacher_logits import TeacherLogits, load_or_compute
from model_training.distillation.transfer_set import Substitution, transfer_copies
from model_training.distillation.wordnet_examples import sample_examples, usage_examples, wordnet_dir
from model_training.models.pretrained import pretrained_spec, resolve_pretrained
from model_training.train import train

log = logging.getLogger(__name__)


class TeacherHyperparams(L.Callback):
    """Record the teacher's identity with the student's run (W&B config `teacher.*`): the link between the runs.

    The teacher is known once the datamodule is built (its logits name it), so the callback reads it at fit start.
    """

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for logger in trainer.loggers:
            logger.log_hyperparams({"teacher": teacher_link(self.state["teacher"])})


def transfer_split(train_split: datasets.Dataset, unlabelled: list[str], teacher: TeacherLogits) -> datasets.Dataset:
    """Training sentences (gold label + teacher logits) followed by the unlabelled ones, copies and WordNet examples
    (teacher logits only); the teacher's features beside them when feature distillation computed them."""
    sentences = list(train_split["sentence"])
    columns: dict[str, Any] = {
        "sentence": sentences + unlabelled,
        "label": list(train_split["label"]) + [NO_LABEL] * len(unlabelled),
        "teacher_logits": teacher.logits.tolist(),
    }
    if teacher.features is not None:
        columns["teacher_features"] = teacher.features
    return datasets.Dataset.from_dict(columns)


def feature_summary(features: np.ndarray) -> dict[str, float]:
    """The teacher features' width and total variance: the student's projection and the loss's scale."""
    return {"size": int(features.shape[1]), "variance": float(features.astype(np.float32).var(axis=0).sum())}


def teacher_link(provenance: dict[str, Any]) -> dict[str, Any]:
    """What the student's metrics, W&B run and bundle record about its teacher."""
    keys = ("model_version", "encoder", "run_name", "model_file", "model_sha256", "metrics")
    return {k: provenance.get(k) for k in keys}


def engine_settings(cfg: DictConfig) -> EngineSettings:
    """The teacher-logits engine from conf/distill: the teacher run's model defaults to the one the bundle names."""
    teacher = cfg.distill.teacher
    model_dir = teacher.run_model
    if model_dir is None and (Path(teacher.bundle) / "manifest.json").is_file():
        model_dir = Path(cfg.distill.runs_dir) / load_manifest(Path(teacher.bundle))["run_name"] / "model"
    return EngineSettings(
        engine=teacher.engine,
        model_dir=Path(model_dir) if model_dir is not None else None,
        features=cfg.distill.feature_weight > 0,
        parity_sentences=teacher.parity.sentences,
        max_abs_diff=teacher.parity.max_abs_diff,
        max_mean_abs_diff=teacher.parity.max_mean_abs_diff,
        min_agreement=teacher.parity.min_agreement,
    )


def substitution(cfg: DictConfig, sentences: Sequence[str]) -> Substitution | None:
    """Lexical-substitution settings from conf/distill, neighbours taken from the student encoder's embeddings."""
    settings = cfg.distill.transfer.substitution
    if settings.copies_per_sentence == 0:
        return None
    encoder = resolve_pretrained(pretrained_spec(cfg.model), cfg.paths.pretrained_cache)
    words = (w.strip(string.punctuation) for s in sentences for w in s.split())
    return Substitution(
        neighbours=embedding_neighbours(encoder, words, settings.top_k),
        copies_per_sentence=settings.copies_per_sentence,
        probability=settings.probability,
    )


def wordnet_sentences(cfg: DictConfig, splits: datasets.DatasetDict) -> list[str]:
    """The WordNet usage examples conf/distill asks for, none equal to a sentence of any split (dev included)."""
    count = cfg.distill.transfer.wordnet_examples
    if count == 0:
        return []
    seen = (s for split in splits.values() for s in split["sentence"])
    return sample_examples(usage_examples(wordnet_dir()), count, cfg.distill.transfer.seed, exclude=seen)


def distill(cfg: DictConfig) -> dict[str, Any]:
    """Build the transfer set, get the teacher's logits, train the student; returns metrics.json's content."""
    state: dict[str, Any] = {}
    dc = cfg.distill
    student_init = start_from_run(cfg)
    if student_init is not None:
        log.info("student starts from run %s (weights %s)", student_init["run_name"], student_init["weights_sha256"])

    def with_transfer_set(splits: datasets.DatasetDict) -> datasets.DatasetDict:
        sentences = list(splits["train"]["sentence"])
        made = transfer_copies(
            sentences,
            dc.transfer.copies_per_sentence,
            list(dc.transfer.operations),
            dc.transfer.seed,
            substitution(cfg, sentences),
        )
        natural = wordnet_sentences(cfg, splits)
        unlabelled = [c.text for c in made] + natural  # no gold label on any: the teacher's logits alone
        substituted = sum(c.copy >= dc.transfer.copies_per_sentence for c in made)
        log.info(
            "transfer set: %d training sentences + %d damaged and %d substitution copies + %d WordNet examples",
            len(sentences),
            len(made) - substituted,
            substituted,
            len(natural),
        )
        teacher = load_or_compute(
            Path(dc.teacher.bundle),
            dc.teacher.model_file,
            sentences + unlabelled,
            Path(dc.cache_dir),
            dc.teacher.batch_size,
            engine_settings(cfg),
        )
        # The share the teacher scores as class 1 (data.labels[1]): perturbations mostly break sentences; WordNet's
        # examples are mostly acceptable.
        verdicts = teacher.logits[len(sentences) :].argmax(1) == 1
        share = float(verdicts[: len(made)].mean()) if made else float("nan")
        natural_share = float(verdicts[len(made) :].mean()) if natural else float("nan")
        state["teacher"] = teacher.provenance
        state["transfer"] = {
            "sentences": len(sentences),
            "copies": len(made),
            "copies_acceptable_share": round(share, 4),
            "wordnet_examples": len(natural),
            "wordnet_acceptable_share": round(natural_share, 4),
            "operations": list(dc.transfer.operations),
            "copies_per_sentence": dc.transfer.copies_per_sentence,
            "substitution_copies": substituted,
            "substitution": dict(dc.transfer.substitution),
        }
        if teacher.features is not None:  # the distilled module's projection needs the teacher's width
            cfg.module.teacher_features = feature_summary(teacher.features)
            state["features"] = dict(cfg.module.teacher_features)
            log.info("teacher features: %d wide, total variance %.3f", *state["features"].values())
        splits["train"] = transfer_split(splits["train"], unlabelled, teacher)
        return splits

    def extra_result() -> dict[str, Any]:
        return {
            "distillation": {
                "teacher": teacher_link(state["teacher"]),
                "teacher_logits": {
                    k: state["teacher"][k]
                    for k in ("cache", "sentences_sha256", "n", "cached", "engine", "parity")
                    if k in state["teacher"]
                },
                "temperature": dc.temperature,
                "alpha": dc.alpha,
                "feature_weight": dc.feature_weight,
                "teacher_features": state.get("features"),
                "transfer": state["transfer"],
                "student_init": student_init,
            }
        }

    return train(cfg, [TeacherHyperparams(state)], transform_splits=with_transfer_set, extra_result=extra_result)


@hydra.main(version_base="1.3", config_path="../conf", config_name="distill")
def main(cfg: DictConfig) -> float:
    """Hydra entry point; returns the student's best validation MCC."""
    return float(distill(cfg)["best"]["val_mcc"])


if __name__ == "__main__":
    main()
