"""GET /model: what a client or an operator may know about the served bundle (its manifest, trimmed)."""

from __future__ import annotations

from typing import Any

from .runtime import Model
from .settings import Settings

PUBLISHED = ("model_name", "run_name", "created_at", "tokenizer", "training", "parity", "reference", "libraries")
"""Manifest sections served as they are. Left out: source_config (the training machine's paths and config) and
machine (the training and export hosts)."""


def model_info(model: Model, settings: Settings) -> dict[str, Any]:
    """Version, labels, files (sha256, bytes), the served file, training metrics, parity and the API's limits."""
    manifest = model.manifest
    tokenizer = manifest["tokenizer"]
    serving = manifest["serving"]
    info: dict[str, Any] = {
        "model_version": model.model_version,
        "labels": list(manifest["labels"]),
        "files": {
            name: {"sha256": entry.get("sha256"), "bytes": entry.get("bytes")}
            for name, entry in sorted(manifest["files"].items())
        },
        "serving": {
            "model_file": model.model_file,
            "manifest_model_file": serving["model_file"],
            "manifest_precision": serving.get("precision"),
            "manifest_reason": serving.get("reason"),
        },
        "limits": {
            "max_batch": settings.max_batch,
            "max_text_chars": settings.max_text_chars,
            "max_sequence_tokens": tokenizer.get("max_length"),
        },
    }
    info.update({key: manifest.get(key) for key in PUBLISHED})
    return info
