"""The int8 model a bundle ships: its settings tried in order (conf/export/<model>.yaml's `quantization`, then each of
its `fallbacks`) until one passes the int8 gates.

Dynamic quantization of a fine-tuned student sometimes lands just under the agreement gate (a few dev sentences
near the decision boundary flip); another setting of the same speed often passes, so it is tried before the bundle
falls back to serving fp32 (docs/bundle.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalice_app.chalicelib.contract.manifest import Int8Attempt, Int8Settings, ParityReport

log = logging.getLogger(__name__)

OPTIONS = ("per_channel", "reduce_range", "keep_fp32")
"""The quantization options a fallback may change."""

Attempt = Callable[[Int8Settings], tuple[ParityReport, list[str], int]]
"""Builds the int8 model with the given settings and gates it: its report, its gate failures, its fp32 node count."""


def int8_candidates(quantization: Mapping[str, Any]) -> list[Int8Settings]:
    """The settings to try, in order: the base ones, then each fallback (a partial override of the base)."""
    base: Int8Settings = {
        "per_channel": bool(quantization["per_channel"]),
        "reduce_range": bool(quantization["reduce_range"]),
        "keep_fp32": [str(p) for p in quantization["keep_fp32"]],
        "fp32_nodes": 0,
    }
    candidates = [base]
    for i, fallback in enumerate(quantization.get("fallbacks") or []):
        unknown = sorted(set(fallback) - set(OPTIONS))
        if unknown:
            raise ValueError(
                f"export.quantization.fallbacks[{i}] sets {', '.join(unknown)}: a fallback may set only "
                f"{', '.join(OPTIONS)}"
            )
        candidate: Int8Settings = {**base}
        if fallback.get("per_channel") is not None:
            candidate["per_channel"] = bool(fallback["per_channel"])
        if fallback.get("reduce_range") is not None:
            candidate["reduce_range"] = bool(fallback["reduce_range"])
        if fallback.get("keep_fp32") is not None:
            candidate["keep_fp32"] = [str(p) for p in fallback["keep_fp32"]]
        candidates.append(candidate)
    return candidates


def first_passing(candidates: Sequence[Int8Settings], attempt: Attempt) -> tuple[ParityReport, list[Int8Attempt]]:
    """Try each candidate until one passes its gates. Returns the report of the last one tried (the one that passed,
    or the last fallback) and every attempt in order: the last attempt holds its settings and failures."""
    if not candidates:
        raise ValueError("no int8 settings to try")
    attempts: list[Int8Attempt] = []
    for n, candidate in enumerate(candidates, 1):
        log.info("int8 attempt %d of %d: %s", n, len(candidates), _describe(candidate))
        report, failures, fp32_nodes = attempt(candidate)
        attempts.append(
            {
                "settings": {**candidate, "fp32_nodes": fp32_nodes},
                "prediction_agreement": report["prediction_agreement"],
                "mcc": report["candidate"]["mcc"],
                "failures": failures,
            }
        )
        if not failures:
            break
        if n < len(candidates):
            log.warning("int8 attempt %d failed its gates (%s); trying the next setting", n, "; ".join(failures))
    return report, attempts


def _describe(settings: Int8Settings) -> str:
    kept = ", ".join(settings["keep_fp32"]) or "none"
    return f"per_channel={settings['per_channel']}, reduce_range={settings['reduce_range']}, fp32 MatMuls: {kept}"
