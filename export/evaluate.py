"""Evaluate a model bundle on CoLA-format TSV files with the runtime predictor (no torch model):
`python -m export.evaluate BUNDLE_DIR [name=file.tsv ...] [--model-file model.onnx]`.

Prints accuracy, MCC and the confusion matrix per file and writes BUNDLE_DIR-evaluation.json beside the bundle
(the bundle itself is immutable).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from chalice_app.chalicelib.api.predictor import Predictor
from chalice_app.chalicelib.contract.manifest import BundleError
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
    args = parser.parse_args(argv)
    try:
        predictor = Predictor(args.bundle, model_file=args.model_file)
    except BundleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        "model_version": predictor.model_version,
        "model_file": predictor.model_file,
        "machine": machine_description(),
    }
    for spec in args.files:
        name, _, path = spec.rpartition("=") if "=" in spec else (Path(spec).stem, "", spec)
        try:
            rows = read_cola_tsv(path)
        except DataValidationError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        sentences, gold = [r.sentence for r in rows], [r.label for r in rows]
        predicted = [predictor.labels.index(p.label) for p in predictor.predict(sentences)]
        report = results[name] = {"file": path, **binary_report(gold, predicted)}
        print(
            f"{name}: n={report['n']} MCC {report['mcc']:.4f} accuracy {report['accuracy']:.4f} "
            f"confusion [[tn, fp], [fn, tp]] = {report['confusion_matrix']}"
        )
    out = args.bundle.with_name(f"{args.bundle.name}-evaluation.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
