"""Synthetic prediction logs for the monitoring tests, built with the real code paths: the reference comes from
the contract's `reference_distribution`, every line from the runtime's `prediction_record`.

`reference_predictions` draws a CoLA-like population (70% confident acceptable, short sentences); the undrifted
window is that same population (PSI 0 by construction), the drifted ones change it on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np

from chalice_app.chalicelib.api.predictor import Prediction
from chalice_app.chalicelib.contract.drift_reference import reference_distribution
from chalice_app.chalicelib.contract.json_logging import utc_timestamp
from chalice_app.chalicelib.contract.log_line import prediction_record
from chalice_app.chalicelib.contract.manifest import ManifestContent, write_manifest
from tests.support.labels import LABELS


def make_prediction(
    p_acceptable: float, n_tokens: int, truncated: bool = False, unknown_token_rate: float = 0.0
) -> Prediction:
    probabilities = {LABELS[0]: 1.0 - p_acceptable, LABELS[1]: p_acceptable}
    label = LABELS[1] if p_acceptable >= 0.5 else LABELS[0]
    return Prediction(label, probabilities[label], probabilities, 4 * n_tokens, n_tokens, truncated, unknown_token_rate)


def reference_predictions(n: int = 600, seed: int = 0) -> list[Prediction]:
    """A dev-set-like population: 70% acceptable with high scores, 30% low, lengths around 9 word pieces."""
    rng = np.random.default_rng(seed)
    acceptable = rng.random(n) < 0.7
    scores = np.where(acceptable, rng.beta(8, 1.2, n), rng.beta(1.2, 6, n))
    lengths = np.clip(rng.poisson(9, n), 1, 40)
    return [make_prediction(float(s), int(t)) for s, t in zip(scores, lengths, strict=True)]


def drifted_predictions(n: int = 600, seed: int = 1) -> list[Prediction]:
    """Long, out-of-vocabulary-heavy inputs with uncertain scores: every distribution signal moves."""
    rng = np.random.default_rng(seed)
    scores, lengths = rng.uniform(0.2, 0.8, n), np.clip(rng.poisson(40, n), 1, 62)
    lengths[::5] = 62  # a fifth cut at the serving length
    return [
        make_prediction(float(s), int(t), truncated=bool(t == 62), unknown_token_rate=0.2)
        for s, t in zip(scores, lengths, strict=True)
    ]


def flip_labels(predictions: Sequence[Prediction], share: float) -> list[Prediction]:
    """Turn the first `share` of the acceptable predictions into their mirror image (p -> 1 - p)."""
    budget = round(share * len(predictions))
    flipped = []
    for prediction in predictions:
        p = prediction.probabilities[LABELS[1]]
        if budget and p >= 0.5:
            budget -= 1
            prediction = replace(make_prediction(1.0 - p, prediction.n_tokens), n_chars=prediction.n_chars)
        flipped.append(prediction)
    return flipped


def write_reference_bundle(
    directory: Path, predictions: Sequence[Prediction], with_length_histogram: bool = True
) -> str:
    """A directory whose manifest carries the reference of `predictions` (no model files); its model version."""
    directory.mkdir(parents=True, exist_ok=True)
    reference: dict[str, Any] = dict(reference_distribution(list(predictions), LABELS, "validation"))
    if not with_length_histogram:
        del reference["n_tokens_histogram"]
    content = {
        "labels": list(LABELS),
        "tokenizer": {"max_length": 64, "pad_id": 0, "unk_id": 100},
        "serving": {"model_file": "model.onnx", "precision": "fp32", "reason": "a reference-only test bundle"},
        "reference": reference,
    }
    return write_manifest(directory, cast(ManifestContent, content))["model_version"]


def log_lines(
    predictions: Iterable[Prediction],
    model_version: str,
    start: datetime | None = None,
    step: timedelta = timedelta(seconds=1),
    latency_ms: float = 2.0,
) -> list[dict[str, Any]]:
    """One prediction log line per prediction, as the API writes them, one second apart from `start`."""
    moment = start or datetime.now(UTC) - timedelta(hours=1)
    lines = []
    for i, prediction in enumerate(predictions):
        lines.append(
            prediction_record(
                prediction,
                f"sentence {i}",
                timestamp=utc_timestamp(moment + i * step),
                request_id=f"req-{i}",
                model_version=model_version,
                model_file="model.int8.onnx",
                latency_ms=latency_ms,
                inference_ms=latency_ms / 2,
                batch_size=1,
                index=0,
                log_raw_text=False,
                positive_label=LABELS[1],
            )
        )
    return lines


def write_log(path: Path, lines: Iterable[dict[str, Any] | str]) -> Path:
    """A JSON-lines file: dicts as JSON (as write_lines does), strings verbatim (junk, server chatter)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            text = line if isinstance(line, str) else json.dumps(line, ensure_ascii=True, separators=(",", ":"))
            handle.write(text + "\n")
    return path
