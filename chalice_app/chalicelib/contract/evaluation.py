"""A bundle's evaluation: `<bundle>-evaluation.json` beside the bundle, written by `make evaluate-bundle`.

It holds the served model's scores on CoLA-format files (`splits`), its behaviour tests' pass rates per capability
(`behaviour`) and the quality gate's verdict (`gate`: each floor of conf/gate.yaml with the figure it judged).
export/ writes it; the gate (`make gate`), bench/quality.py and DVC (a metrics file) read it. The bundle itself
is immutable, so its evaluation lives beside it. Standard library only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

SCHEMA_VERSION = 2
"""2: splits under `splits`, with `behaviour` and `gate` (1: splits at the top level, no behaviour)."""

TestType = Literal["mft", "invariance", "directional"]


class EvaluationError(RuntimeError):
    """The evaluation file is missing, stale (another model version) or of another format."""


class SplitReport(TypedDict):
    """The served model on one CoLA-format file: accuracy, MCC and the confusion matrix [[tn, fp], [fn, tp]]."""

    file: str
    n: int
    accuracy: float
    mcc: float
    confusion_matrix: list[list[int]]


class BehaviourFailure(TypedDict):
    """One failed case: its sentences, what was expected and what the model answered."""

    texts: list[str]
    expected: str
    got: str


class CapabilityReport(TypedDict):
    """The pass rate of one capability's generated cases (a few failures kept as examples)."""

    test: TestType
    description: str
    n: int
    passed: int
    pass_rate: float
    failures: list[BehaviourFailure]


class BehaviourReport(TypedDict):
    """The behaviour tests (conf/behaviour.yaml): how they were generated and each capability's report."""

    seed: int
    n_cases: int
    capabilities: dict[str, CapabilityReport]


class FloorResult(TypedDict):
    """One floor of the quality gate: the figure it judged (None when the evaluation lacks it) and the verdict."""

    floor: float
    value: float | None
    passed: bool


class GateVerdict(TypedDict):
    """Every floor's result; `passed` only when each floor passed."""

    passed: bool
    floors: dict[str, FloorResult]


class Evaluation(TypedDict):
    schema_version: int
    model_version: str
    model_file: str
    machine: dict[str, Any]
    splits: dict[str, SplitReport]
    behaviour: BehaviourReport
    gate: GateVerdict


def evaluation_path(bundle_dir: Path) -> Path:
    """Where a bundle's evaluation lives: `<bundle>-evaluation.json` beside the bundle directory."""
    bundle_dir = Path(bundle_dir)
    return bundle_dir.with_name(f"{bundle_dir.name}-evaluation.json")


def write_evaluation(bundle_dir: Path, evaluation: Evaluation) -> Path:
    """Write the evaluation beside the bundle; returns its path."""
    path = evaluation_path(bundle_dir)
    path.write_text(json.dumps(evaluation, indent=2) + "\n")
    return path


def load_evaluation(bundle_dir: Path, model_version: str | None = None) -> Evaluation:
    """Read and check a bundle's evaluation; with `model_version`, refuse one made of another model.

    EvaluationError says what to run: a missing, older-format or stale file is fixed by `make evaluate-bundle`.
    """
    path = evaluation_path(bundle_dir)
    again = f"run make evaluate-bundle RUN={Path(bundle_dir).name}"
    if not path.is_file():
        raise EvaluationError(f"{path} does not exist: the bundle was not evaluated; {again}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EvaluationError(f"{path} is not valid JSON ({err}); {again}") from err
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        found = data.get("schema_version", 1) if isinstance(data, dict) else None
        raise EvaluationError(f"{path}: format {found!r}, this reader takes {SCHEMA_VERSION}; {again}")
    for key, kind in (("model_version", str), ("splits", dict), ("behaviour", dict), ("gate", dict)):
        if not isinstance(data.get(key), kind):
            raise EvaluationError(f"{path}: {key!r} is missing or not a {kind.__name__}; {again}")
    if model_version is not None and data["model_version"] != model_version:
        raise EvaluationError(
            f"{path} evaluates model {data['model_version']}, the bundle holds {model_version}: stale; {again}"
        )
    return cast(Evaluation, data)
