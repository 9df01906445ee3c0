"""Parity gates: ONNX fp32 must match torch; int8 must stay close to fp32 in quality and predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from chalice_app.chalicelib.api.predictor import inference_session, pad_batch
from chalice_app.chalicelib.contract.manifest import ParityReport
from model_training.models.metrics import classification_metrics


class ExportGateError(RuntimeError):
    """A parity gate failed; the message is the full report."""


@dataclass(frozen=True)
class Gates:
    fp32_max_abs_logit_diff: float = 1e-4
    fp32_min_agreement: float = 1.0
    int8_max_mcc_drop: float = 0.02
    int8_min_agreement: float = 0.97


def batches(input_ids: list[list[int]], pad_id: int, size: int) -> list[dict[str, np.ndarray]]:
    """Dynamic-padded numpy batches, in order, padded exactly as the runtime predictor pads."""
    return [pad_batch(input_ids[start : start + size], pad_id) for start in range(0, len(input_ids), size)]


def torch_logits(model: torch.nn.Module, feeds: list[dict[str, np.ndarray]]) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return np.concatenate(
            [
                model(
                    input_ids=torch.from_numpy(f["input_ids"]), attention_mask=torch.from_numpy(f["attention_mask"])
                ).logits.numpy()
                for f in feeds
            ]
        )


def onnx_logits(model_path: str, feeds: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Logits of an ONNX model over prepared batches (use batches of 1 for int8, as it is served), from a session
    with the predictor's graph rewrites (inference_session): the gates judge the graph that is served."""
    session = inference_session(Path(model_path), ort.SessionOptions())
    return np.concatenate([session.run(["logits"], f)[0] for f in feeds])


def quality(logits: np.ndarray, labels: list[int]) -> dict[str, float]:
    """MCC, accuracy, F1, precision, recall of argmax predictions."""
    probs = torch.from_numpy(logits).float().softmax(-1)[:, 1]
    computed = classification_metrics("q")(probs, torch.as_tensor(labels))
    return {k.split("/", 1)[1]: round(float(v), 6) for k, v in computed.items()}


def parity_report(reference: np.ndarray, candidate: np.ndarray, labels: list[int]) -> ParityReport:
    """How far `candidate` logits are from `reference` logits, and both models' quality."""
    agree = float(np.mean(reference.argmax(-1) == candidate.argmax(-1)))
    return {
        "max_abs_logit_diff": float(np.max(np.abs(reference - candidate))),
        "prediction_agreement": agree,
        "reference": quality(reference, labels),
        "candidate": quality(candidate, labels),
    }


def fp32_gate_failures(fp32: ParityReport, gates: Gates) -> list[str]:
    """The fp32 ONNX model must compute what torch computes: a failure here means the export is broken."""
    failures = []
    if fp32["max_abs_logit_diff"] > gates.fp32_max_abs_logit_diff:
        failures.append(
            f"fp32 ONNX vs torch: max |logit diff| {fp32['max_abs_logit_diff']:.2e} "
            f"> {gates.fp32_max_abs_logit_diff:.0e}"
        )
    if fp32["prediction_agreement"] < gates.fp32_min_agreement:
        failures.append(
            f"fp32 ONNX vs torch: prediction agreement {fp32['prediction_agreement']:.4f} < {gates.fp32_min_agreement}"
        )
    return failures


def int8_gate_failures(int8: ParityReport, gates: Gates) -> list[str]:
    """The int8 model must stay close to fp32 in quality and predictions to be served instead of it."""
    failures = []
    drop = int8["reference"]["mcc"] - int8["candidate"]["mcc"]
    if drop > gates.int8_max_mcc_drop:
        failures.append(
            f"int8 vs fp32: MCC {int8['candidate']['mcc']:.4f} vs {int8['reference']['mcc']:.4f}, "
            f"drop {drop:.4f} > {gates.int8_max_mcc_drop} (try export.quantization.per_channel=true "
            "and keep the most sensitive MatMuls in fp32 with export.quantization.keep_fp32)"
        )
    if int8["prediction_agreement"] < gates.int8_min_agreement:
        failures.append(
            f"int8 vs fp32: prediction agreement {int8['prediction_agreement']:.4f} < {gates.int8_min_agreement}"
        )
    return failures
