"""Assemble a model bundle in a staging directory, gate it, then move it into place in one step."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from chalice_app.chalicelib.labels import LABELS
from chalice_app.chalicelib.manifest import MANIFEST_FILE, SCHEMA_VERSION, model_version, sha256_file
from chalice_app.chalicelib.predictor import Prediction
from model_training.machine import library_versions

N_TOKENS_BIN_EDGES = (0, 4, 6, 8, 10, 12, 15, 20, 30, 45, 63)
"""Input length bins (word pieces) of the reference: fine where CoLA sentences lie (median about 8), coarse above.
The last bin is open-ended: it also holds every count above 63 (monitoring/drift.py bins recent inputs alike)."""


def write_serving_tokenizer(source: Path, target: Path, max_length: int) -> dict[str, Any]:
    """Save tokenizer.json with truncation set for serving and padding off (the predictor pads batches).

    The tokenizer saved after training keeps training-time settings (and MPNet's upstream one pads to 128 with
    pad id 1), so both are set explicitly here. Returns what the manifest records about it.
    """
    tokenizer = Tokenizer.from_file(str(source))
    tokenizer.enable_truncation(max_length)
    tokenizer.no_padding()
    tokenizer.save(str(target))
    config_file = source.parent / "tokenizer_config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    pad_token = config.get("pad_token", "[PAD]")
    unk_token = config.get("unk_token", "[UNK]")
    pad_token = pad_token["content"] if isinstance(pad_token, dict) else pad_token
    unk_token = unk_token["content"] if isinstance(unk_token, dict) else unk_token
    pad_id = tokenizer.token_to_id(pad_token)
    if pad_id is None:
        raise ValueError(f"{source}: pad token {pad_token!r} is not in the vocabulary")
    return {"max_length": max_length, "pad_id": pad_id, "unk_id": tokenizer.token_to_id(unk_token)}


def reference_distribution(predictions: list[Prediction], split: str) -> dict[str, Any]:
    """What the served model's outputs and inputs look like on a reference split, for later drift checks."""
    scores = np.array([p.probabilities[LABELS[1]] for p in predictions])
    chars = np.array([p.n_chars for p in predictions])
    tokens = np.array([p.n_tokens for p in predictions])
    bins = np.linspace(0.0, 1.0, 11)

    def summary(values: np.ndarray) -> dict[str, float]:
        return {
            "mean": round(float(values.mean()), 4),
            "p50": float(np.percentile(values, 50)),
            "p90": float(np.percentile(values, 90)),
            "p99": float(np.percentile(values, 99)),
            "max": float(values.max()),
        }

    return {
        "split": split,
        "n": len(predictions),
        "label_share": {name: round(float(np.mean([p.label == name for p in predictions])), 4) for name in LABELS},
        "score_histogram": {
            "of": f"P({LABELS[1]})",
            "bin_edges": [round(float(b), 2) for b in bins],
            "counts": np.histogram(scores, bins=bins)[0].tolist(),
        },
        "n_chars": summary(chars),
        "n_tokens": summary(tokens),
        "n_tokens_histogram": {
            "bin_edges": list(N_TOKENS_BIN_EDGES),
            "counts": np.histogram(np.minimum(tokens, N_TOKENS_BIN_EDGES[-1]), bins=N_TOKENS_BIN_EDGES)[0].tolist(),
        },
        "unknown_token_rate_mean": round(float(np.mean([p.unknown_token_rate for p in predictions])), 6),
        "truncated_share": round(float(np.mean([p.truncated for p in predictions])), 6),
    }


def write_manifest(staging: Path, content: dict[str, Any]) -> dict[str, Any]:
    """Hash every file in the staging directory, derive the version, and write manifest.json."""
    hashes = {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.name != MANIFEST_FILE}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "model_version": model_version(hashes),
        "files": {
            name: {"sha256": digest, "bytes": (staging / name).stat().st_size} for name, digest in hashes.items()
        },
        "labels": list(LABELS),
        **content,
        "libraries": library_versions(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def publish(staging: Path, target: Path) -> None:
    """Replace `target` with the finished staging directory (same filesystem, so the rename is atomic)."""
    if target.exists():
        retired = target.with_name(f".{target.name}.old")
        shutil.rmtree(retired, ignore_errors=True)
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(target)
