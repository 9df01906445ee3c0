"""The teacher's logits on the distillation transfer set, computed once from its bundle and cached.

The teacher is a verified model bundle (fp32 ONNX: the same graph whose parity with torch the export proved), so
the soft targets come from exactly the model that `make export` published. The cache key is the teacher's model
version, the model file and the transfer set's content hash: a retrained teacher or another transfer set gets new
logits, never stale ones.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from chalice_app.chalicelib.api.predictor import Predictor
from chalice_app.chalicelib.contract.manifest import load_manifest
from model_training.distillation.transfer_set import sentences_sha256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeacherLogits:
    """Logits (n, 2) of the teacher for an ordered list of sentences, with where they came from."""

    logits: np.ndarray
    provenance: dict[str, Any]


def teacher_identity(bundle_dir: Path, model_file: str) -> dict[str, Any]:
    """Version, model file hash and metrics of a teacher bundle (read from its manifest, without loading it)."""
    manifest_path = Path(bundle_dir) / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"teacher bundle {bundle_dir} has no manifest.json: export the teacher first "
            "(make train MODEL=mpnet && make export MODEL=mpnet)"
        )
    manifest = load_manifest(Path(bundle_dir))
    files = manifest["files"]
    if model_file not in files:
        raise ValueError(f"teacher bundle {bundle_dir} has no {model_file!r} (has: {', '.join(sorted(files))})")
    return {
        "bundle": str(bundle_dir),
        "model_version": manifest["model_version"],
        "model_file": model_file,
        "model_sha256": files[model_file]["sha256"],
        "encoder": manifest["model_name"],
        "run_name": manifest["run_name"],
        "metrics": {"best": manifest["training"]["best"], "eval": manifest["training"]["eval"]},
    }


def cache_path(cache_dir: Path, identity: dict[str, Any], sentences_hash: str) -> Path:
    """Where the logits of this teacher on this transfer set live."""
    name = f"{identity['model_version']}-{Path(identity['model_file']).stem}-{sentences_hash[:16]}.npz"
    return Path(cache_dir) / name


def compute_logits(predictor: Predictor, sentences: list[str], batch_size: int) -> np.ndarray:
    """Teacher logits for every sentence, batched by length (little padding), returned in input order."""
    ids = [e.ids for e in predictor.tokenizer.encode_batch(sentences)]
    order = sorted(range(len(sentences)), key=lambda i: len(ids[i]))
    logits = np.zeros((len(sentences), 2), dtype=np.float32)
    for start in tqdm(range(0, len(order), batch_size), desc="teacher logits", unit="batch"):
        rows = order[start : start + batch_size]
        logits[rows] = predictor.logits([ids[i] for i in rows])
    return logits


def load_or_compute(
    bundle_dir: Path, model_file: str, sentences: list[str], cache_dir: Path, batch_size: int = 64
) -> TeacherLogits:
    """Cached teacher logits for the sentences; computed (and cached) when the teacher or sentences changed."""
    identity = teacher_identity(bundle_dir, model_file)
    digest = sentences_sha256(sentences)
    path = cache_path(cache_dir, identity, digest)
    provenance = {**identity, "sentences_sha256": digest, "n": len(sentences), "cache": str(path)}
    if path.is_file():
        with np.load(path) as stored:
            cached = json.loads(str(stored["provenance"]))
            if cached.get("sentences_sha256") == digest and cached.get("model_sha256") == identity["model_sha256"]:
                log.info("teacher logits from cache %s", path)
                return TeacherLogits(np.asarray(stored["logits"]), {**provenance, "cached": True})
        log.warning("teacher logits cache %s does not match this teacher/transfer set: recomputing", path)
    predictor = Predictor(Path(bundle_dir), model_file=model_file)  # verifies the bundle's hashes
    logits = compute_logits(predictor, sentences, batch_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, logits=logits, provenance=json.dumps(provenance))
    partial.replace(path)
    return TeacherLogits(logits, {**provenance, "cached": False})
