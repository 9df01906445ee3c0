"""A bundle's evaluation file: beside the bundle, written and read through the contract; a missing, older-format
or stale file is refused with the command that renews it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalice_app.chalicelib.contract.evaluation import (
    SCHEMA_VERSION,
    EvaluationError,
    evaluation_path,
    load_evaluation,
    write_evaluation,
)

EVALUATION: Any = {
    "schema_version": SCHEMA_VERSION,
    "model_version": "m-0123456789ab",
    "model_file": "model.int8.onnx",
    "machine": {},
    "splits": {"dev": {"file": "dev.tsv", "n": 2, "accuracy": 1.0, "mcc": 1.0, "confusion_matrix": [[1, 0], [0, 1]]}},
    "behaviour": {"seed": 16, "n_cases": 0, "capabilities": {}},
    "gate": {"passed": True, "floors": {}},
}


def test_the_evaluation_lives_beside_the_bundle(tmp_path: Path) -> None:
    assert evaluation_path(tmp_path / "bundles" / "minilm") == tmp_path / "bundles" / "minilm-evaluation.json"


def test_what_is_written_is_read_back_for_its_model(tmp_path: Path) -> None:
    write_evaluation(tmp_path / "minilm", EVALUATION)
    assert load_evaluation(tmp_path / "minilm", "m-0123456789ab") == EVALUATION


def test_a_missing_evaluation_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="not evaluated; run make evaluate-bundle RUN=minilm"):
        load_evaluation(tmp_path / "minilm")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"model_version": "m-1", "dev": {"mcc": 0.4}}), "format 1, this reader takes 2"),
        (json.dumps({**EVALUATION, "behaviour": None}), "'behaviour' is missing"),
    ],
)
def test_an_unreadable_or_older_evaluation_is_refused(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "minilm-evaluation.json").write_text(content)
    with pytest.raises(EvaluationError, match=message) as caught:
        load_evaluation(tmp_path / "minilm")
    assert "make evaluate-bundle RUN=minilm" in str(caught.value)


def test_an_evaluation_of_another_model_version_is_stale(tmp_path: Path) -> None:
    write_evaluation(tmp_path / "minilm", EVALUATION)
    with pytest.raises(EvaluationError, match="evaluates model m-0123456789ab, the bundle holds m-ffffffffffff: stale"):
        load_evaluation(tmp_path / "minilm", "m-ffffffffffff")
