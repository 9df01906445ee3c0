"""Evaluate a model bundle with the runtime predictor (no torch model):
`python -m export.evaluate BUNDLE_DIR [name=file.tsv ...] [--model-file model.onnx]`.

Prints accuracy, MCC and the confusion matrix per file, the behaviour tests' pass rate per capability
(conf/behaviour.yaml) and the quality gate's verdict (conf/gate.yaml: each floor pass or FAIL; `make gate` is what
fails on it), and writes BUNDLE_DIR-evaluation.json beside the bundle (the bundle itself is immutable; its format is
chalice_app/chalicelib/contract/evaluation.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, cast

import numpy as np

from chalice_app.chalicelib.api.predictor import Predictor
from chalice_app.chalicelib.contract.evaluation import SCHEMA_VERSION, Evaluation, SplitReport, write_evaluation
from chalice_app.chalicelib.contract.manifest import BundleError
from export import gate
from export.behaviour.cases import DEFAULT_CONFIG, BehaviourConfigError, load_config
from export.behaviour.run import run_behaviour, summary_lines
from model_training.data.cola import DataValidationError, read_cola_tsv
from model_training.machine import machine_description


def binary_report(gold: list[int], predicted: list[int]) -> dict[str, Any]:
    """Accuracy, MCC (0.0 when undefined, as GLUE), and the confusion matrix [[tn, fp], [fn, tp]]."""
    g, p = np.asarray(gold), np.asarray(predicted)
    tp, tn = int(np.sum((g == 1) & (p == 1))), int(np.sum((g == 0) & (p == 0)))
    fp, fn = int(np.sum((g == 0) & (p == 1))), int(np.sum((g == 1) & (p == 0)))
    denominator = float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = (tp * tn - fp * fn) / denominator**0.5 if denominator else 0.0
    return {"n": len(gold), "accuracy": (tp + tn) / len(gold), "mcc": mcc, "confusion_matrix": [[tn, fp], [fn, tp]]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("files", nargs="+", help="name=path.tsv (or just path.tsv)")
    parser.add_argument("--model-file", default=None, help="model.onnx or model.int8.onnx (default: the served one)")
    parser.add_argument("--behaviour", type=Path, default=DEFAULT_CONFIG, help="behaviour tests (conf/behaviour.yaml)")
    parser.add_argument("--floors", type=Path, default=gate.DEFAULT_FLOORS, help="the gate's floors (conf/gate.yaml)")
    args = parser.parse_args(argv)
    try:
        predictor = Predictor(args.bundle, model_file=args.model_file)
        behaviour_config = load_config(args.behaviour)
        floors = gate.load_floors(args.floors)
    except (BundleError, BehaviourConfigError, gate.GateConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    splits: dict[str, SplitReport] = {}
    for spec in args.files:
        name, _, path = spec.rpartition("=") if "=" in spec else (Path(spec).stem, "", spec)
        try:
            rows = read_cola_tsv(path)
        except DataValidationError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        sentences, gold = [r.sentence for r in rows], [r.label for r in rows]
        predicted = [predictor.labels.index(p.label) for p in predictor.predict(sentences)]
        report = splits[name] = cast(SplitReport, {"file": path, **binary_report(gold, predicted)})
        print(
            f"{name}: n={report['n']} MCC {report['mcc']:.4f} accuracy {report['accuracy']:.4f} "
            f"confusion [[tn, fp], [fn, tp]] = {report['confusion_matrix']}"
        )
    try:
        behaviour = run_behaviour(behaviour_config, predictor)
    except BehaviourConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"behaviour ({behaviour['n_cases']} cases from {gate.shown(args.behaviour)}, seed {behaviour['seed']}):")
    print("\n".join(summary_lines(behaviour)))
    verdict = gate.judge(gate.figures(splits, behaviour, predictor.manifest, floors.dev_split), floors)
    print("\n".join(gate.verdict_lines(verdict, args.bundle, args.floors)))
    evaluation: Evaluation = {
        "schema_version": SCHEMA_VERSION,
        "model_version": predictor.model_version,
        "model_file": predictor.model_file,
        "machine": machine_description(),
        "splits": splits,
        "behaviour": behaviour,
        "gate": verdict,
    }
    print(f"wrote {write_evaluation(args.bundle, evaluation)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
