"""Run behaviour cases through the runtime predictor and report each capability's pass rate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chalice_app.chalicelib.api.predictor import Prediction
from chalice_app.chalicelib.contract.evaluation import BehaviourFailure, BehaviourReport, CapabilityReport

from .cases import BehaviourConfig, BehaviourConfigError, Case, generate


class Classifier(Protocol):
    """What the runner needs of chalicelib's Predictor: the bundle's label names and a batch predict."""

    labels: tuple[str, ...]

    def predict(self, texts: list[str]) -> list[Prediction]: ...


def run_behaviour(config: BehaviourConfig, predictor: Classifier) -> BehaviourReport:
    """Generate the config's cases, predict every sentence once, and report per capability."""
    cases = generate(config)
    _check_classes(cases, predictor.labels)
    texts = sorted({text for case in cases for text in case.texts})
    predictions = dict(zip(texts, predictor.predict(texts), strict=True))
    capabilities: dict[str, CapabilityReport] = {}
    for capability in config.capabilities:
        own = [case for case in cases if case.capability == capability.name]
        failures = [
            failure
            for case in own
            if (failure := judge(case, [predictions[t] for t in case.texts], predictor.labels)) is not None
        ]
        passed = len(own) - len(failures)
        capabilities[capability.name] = {
            "test": capability.test,
            "description": capability.description,
            "n": len(own),
            "passed": passed,
            "pass_rate": passed / len(own),
            "failures": failures[: config.failures_kept],
        }
    return {"seed": config.seed, "n_cases": len(cases), "capabilities": capabilities}


def judge(case: Case, predictions: Sequence[Prediction], labels: Sequence[str]) -> BehaviourFailure | None:
    """None when the case passes, else what was expected and what the model answered."""
    texts = list(case.texts)
    if case.test == "mft":
        assert case.expect is not None
        wanted, got = labels[case.expect], predictions[0]
        if got.label == wanted:
            return None
        return {"texts": texts, "expected": wanted, "got": f"{got.label} ({got.score:.3f})"}
    if case.test == "invariance":
        first, second = (p.label for p in predictions)
        return None if first == second else {"texts": texts, "expected": "the same label", "got": f"{first}, {second}"}
    assert case.falls is not None
    name = labels[case.falls]
    before, after = (p.probabilities[name] for p in predictions)
    if after < before:
        return None
    return {"texts": texts, "expected": f"P({name}) below {before:.3f}", "got": f"{after:.3f}"}


def _check_classes(cases: list[Case], labels: Sequence[str]) -> None:
    for case in cases:
        for cls in (case.expect, case.falls):
            if cls is not None and cls >= len(labels):
                raise BehaviourConfigError(
                    f"behaviour capability {case.capability} expects class {cls}, the bundle has {len(labels)} "
                    f"labels {list(labels)}: fix its expect/falls in conf/behaviour.yaml"
                )


def summary_lines(report: BehaviourReport) -> list[str]:
    """One printed line per capability: pass rate, counts and the test kind."""
    return [
        f"  {name:<22} {cap['pass_rate']:6.1%} ({cap['passed']}/{cap['n']}, {cap['test']}): {cap['description']}"
        for name, cap in report["capabilities"].items()
    ]
