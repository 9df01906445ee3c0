"""The teacher's logits on the distillation transfer set, computed once from its bundle and cached.

The teacher is a verified model bundle (fp32 ONNX: the same graph whose parity with torch the export proved), so
the soft targets come from exactly the model that `make export` published. On a CPU with AMX the teacher run's own
weights in bf16 compute them several times faster, once they agree with the bundle on a sample
(model_training/distillation/teacher_engine.py). The cache key is the teacher's model version, the model file, the
engine and the transfer set's content hash: a retrained teacher or another transfer set gets new logits, never
stale ones.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from chalice_app.chalicelib.api.predictor import Predictor
from chalice_app.chalicelib.contract.manifest import load_manifest
from model_training.distillation.teacher_engine import (
    EngineSettings,
    TorchTeacher,
    choose_engine,
    parity,
    sample_rows,
)
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


def cache_path(cache_dir: Path, identity: dict[str, Any], sentences_hash: str, engine: str = "onnx") -> Path:
    """Where the logits of this teacher on this transfer set live (one file per engine)."""
    suffix = "" if engine == "onnx" else f"-{engine}"
    name = f"{identity['model_version']}-{Path(identity['model_file']).stem}{suffix}-{sentences_hash[:16]}.npz"
    return Path(cache_dir) / name


Forward = Callable[[list[list[int]]], np.ndarray]


def compute_logits(
    predictor: Predictor, sentences: list[str], batch_size: int, forward: Forward | None = None
) -> np.ndarray:
    """Teacher logits for every sentence, batched by length (little padding), returned in input order; the bundle's
    tokenizer makes the ids, `forward` (default: the bundle's ONNX model) the logits."""
    forward = forward or predictor.logits
    ids = [e.ids for e in predictor.tokenizer.encode_batch(sentences)]
    order = sorted(range(len(sentences)), key=lambda i: len(ids[i]))
    logits = np.zeros((len(sentences), 2), dtype=np.float32)
    for start in tqdm(range(0, len(order), batch_size), desc="teacher logits", unit="batch"):
        rows = order[start : start + batch_size]
        logits[rows] = forward([ids[i] for i in rows])
    return logits


def _read_cache(path: Path, digest: str, model_sha256: str) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The cached logits and their stored provenance when the file holds this teacher's logits on these sentences."""
    if not path.is_file():
        return None
    with np.load(path) as stored:
        cached = json.loads(str(stored["provenance"]))
        if cached.get("sentences_sha256") == digest and cached.get("model_sha256") == model_sha256:
            log.info("teacher logits from cache %s", path)
            return np.asarray(stored["logits"]), cached
    log.warning("teacher logits cache %s does not match this teacher/transfer set: recomputing", path)
    return None


def _torch_bf16_logits(
    predictor: Predictor, sentences: list[str], batch_size: int, settings: EngineSettings
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The torch engine's logits when they agree with the bundle's on a sample (else None) and the parity figures."""
    assert settings.model_dir is not None  # choose_engine picked torch_bf16 only with a model directory
    teacher = TorchTeacher(settings.model_dir, predictor.pad_id)
    rows = sample_rows(len(sentences), settings.parity_sentences)
    sample = [sentences[i] for i in rows]
    checked = parity(
        compute_logits(predictor, sample, batch_size, teacher.logits), compute_logits(predictor, sample, batch_size)
    )
    allowed = {"max_abs_diff": settings.max_abs_diff, "max_mean_abs_diff": settings.max_mean_abs_diff}
    figures = {**checked.as_dict(), "allowed": {**allowed, "min_agreement": settings.min_agreement}}
    if not checked.passes(settings):
        log.warning(
            "teacher run %s in bf16 disagrees with its bundle on %d sentences (|dlogit| max %.3f, mean %.4f, "
            "agreement %.4f; allowed %s): using the bundle's ONNX model",
            settings.model_dir,
            checked.n,
            checked.max_abs_diff,
            checked.mean_abs_diff,
            checked.agreement,
            figures["allowed"],
        )
        return None, figures
    log.info(
        "teacher run in bf16 agrees with its bundle on %d sentences (|dlogit| max %.3f, mean %.4f, agreement %.4f)",
        checked.n,
        checked.max_abs_diff,
        checked.mean_abs_diff,
        checked.agreement,
    )
    return compute_logits(predictor, sentences, batch_size, teacher.logits), figures


def load_or_compute(
    bundle_dir: Path,
    model_file: str,
    sentences: list[str],
    cache_dir: Path,
    batch_size: int = 64,
    engine: EngineSettings | None = None,
) -> TeacherLogits:
    """Cached teacher logits for the sentences; computed (and cached) when the teacher or sentences changed."""
    identity = teacher_identity(bundle_dir, model_file)
    digest = sentences_sha256(sentences)
    settings = engine or EngineSettings()
    choice = choose_engine(settings)
    log.info("teacher logits engine: %s (%s)", choice.engine, choice.reason)
    provenance: dict[str, Any] = {**identity, "sentences_sha256": digest, "n": len(sentences)}
    # The bundle's own logits, when cached, are the reference: good for either engine.
    for name in dict.fromkeys([choice.engine, "onnx"]):
        path = cache_path(cache_dir, identity, digest, name)
        cached = _read_cache(path, digest, identity["model_sha256"])
        if cached is not None:
            stored_logits, stored = cached
            checked = {"parity": stored["parity"]} if "parity" in stored else {}
            return TeacherLogits(
                stored_logits, {**provenance, **checked, "engine": name, "cache": str(path), "cached": True}
            )
    predictor = Predictor(Path(bundle_dir), model_file=model_file)  # verifies the bundle's hashes
    logits: np.ndarray | None = None
    engine_used = "onnx"
    if choice.engine == "torch_bf16":
        logits, provenance["parity"] = _torch_bf16_logits(predictor, sentences, batch_size, settings)
        engine_used = "torch_bf16" if logits is not None else "onnx"
    if logits is None:
        logits = compute_logits(predictor, sentences, batch_size)
    path = cache_path(cache_dir, identity, digest, engine_used)
    provenance = {**provenance, "engine": engine_used, "cache": str(path)}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, logits=logits, provenance=json.dumps(provenance))
    partial.replace(path)
    return TeacherLogits(logits, {**provenance, "cached": False})
