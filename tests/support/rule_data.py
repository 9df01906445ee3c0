"""An easy rule a pretrained encoder learns in a few dozen steps: real CoLA sentences (class 1) against the same
sentences with their word order reversed (class 0). The learning test and the DDP test train on it, because the
smoke run's 64 CoLA rows teach nothing (its model predicts a constant, MCC 0), which no comparison can tell apart.
"""

from __future__ import annotations

import csv
from pathlib import Path

from omegaconf import DictConfig

from model_training.data.cola import read_cola_tsv
from tests.conftest import ROOT
from tests.support.smoke_config import compose_smoke


def reversed_order(sentence: str) -> str:
    """The sentence's words in reverse order, its final punctuation kept at the end."""
    body, end = (sentence[:-1], sentence[-1]) if sentence[-1] in ".?!" else (sentence, "")
    return " ".join(reversed(body.split())) + end


def rule_rows(sentences: list[str]) -> list[tuple[str, int]]:
    """Each sentence as class 1, its reversal as class 0."""
    return [row for s in sentences for row in ((s, 1), (reversed_order(s), 0))]


def write_tsv(path: Path, rows: list[tuple[str, int]]) -> Path:
    """The rows in CoLA's TSV format (source, label, original label, sentence)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        writer.writerows(("rule", label, "", sentence) for sentence, label in rows)
    return path


def rule_split(train_sentences: int, held_out_sentences: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Acceptable training sentences of 6 to 14 words (the first ones in file order), split train / held out, each
    sentence followed by its reversal."""
    rows = read_cola_tsv(ROOT / "data" / "cola" / "raw" / "in_domain_train.tsv")
    chosen = [
        r.sentence for r in rows if r.label == 1 and 6 <= len(r.sentence.split()) <= 14 and "\\" not in r.sentence
    ]
    train_part = chosen[:train_sentences]
    held_out = chosen[train_sentences : train_sentences + held_out_sentences]
    return rule_rows(train_part), rule_rows(held_out)


def rule_run_config(
    base: Path, train_rows: list[tuple[str, int]], held_out: list[tuple[str, int]], *overrides: str
) -> DictConfig:
    """The real conf/ for the fixed tiny run on the rule (smoke preset, no logger, 2 epochs at lr 2e-4, seed 42):
    its rows written under `base`, the run in base/run; `overrides` come last."""
    return compose_smoke(
        "config",
        base / "run",
        f"data.train_file={write_tsv(base / 'train.tsv', train_rows)}",
        f"data.validation_file={write_tsv(base / 'validation.tsv', held_out)}",
        "data.limit_train=null",
        "data.limit_validation=null",
        "training.max_epochs=2",
        "training.lr=2e-4",
        "training.early_stopping_patience=10",
        "seed=42",
        *overrides,
    )
