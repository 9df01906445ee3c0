"""Small valid bundles for tests that need a manifest but no model: written by the contract's own writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from chalice_app.chalicelib.contract.manifest import ManifestContent, write_manifest
from tests.support.labels import LABELS


def minimal_content(**sections: Any) -> ManifestContent:
    """The sections every reader relies on (labels, tokenizer, serving), plus `sections`."""
    base: dict[str, Any] = {
        "labels": list(LABELS),
        "tokenizer": {"max_length": 64, "pad_id": 0, "unk_id": 1},
        "serving": {"model_file": "model.onnx", "precision": "fp32", "reason": "a test bundle", "session_batch": {}},
    }
    return cast(ManifestContent, {**base, **sections})


def write_minimal_bundle(directory: Path, files: dict[str, bytes] | None = None, **sections: Any) -> str:
    """`files` (default a tokenizer.json) and a manifest naming them in `directory`; returns the model version."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in (files if files is not None else {"tokenizer.json": b"{}"}).items():
        (directory / name).write_bytes(data)
    return write_manifest(directory, minimal_content(**sections))["model_version"]
