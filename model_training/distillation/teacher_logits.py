"""The teacher's logits on the distillation transfer set, computed once from its bundle and cached.

The teacher is a verified model bundle (fp32 ONNX: the same graph whose parity with torch the export proved), so
the soft targets come from exactly the model that `make export` published. On a CPU with AMX the teacher run's own
weights in bf16 compute them several times faster, once they agree with the bundle on a sample
(model_training/distillation/teacher_engine.py). The cache key is the teacher's model version, the model file, the
engine and the transfer set's content hash: a retrained teacher or another transfer set gets new logits, never
stale ones. Feature distillation also stores the teacher's classifier-head features (fp16) beside the logits, from
the same forward pass of the run in torch.
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
    TORCH_ENGINES,
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
    """Logits (n, 2) of the teacher for an ordered list of sentences, with where they came from, and its
    classifier-head features (n, width) when feature distillation asked for them."""

    logits: np.ndarray
    provenance: dict[str, Any]
    features: np.ndarray | None = None


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


def cache_path(
    cache_dir: Path, identity: dict[str, Any], sentences_hash: str, engine: str = "onnx", features: bool = False
) -> Path:
    """Where the logits of this teacher on this transfer set live (one file per engine, another with features)."""
    suffix = ("" if engine == "onnx" else f"-{engine}") + ("-features" if features else "")
    name = f"{identity['model_version']}-{Path(identity['model_file']).stem}{suffix}-{sentences_hash[:16]}.npz"
    return Path(cache_dir) / name


Forward = Callable[[list[list[int]]], np.ndarray]


def compute_logits(
    predictor: Predictor, sentences: list[str], batch_size: int, forward: Forward | None = None
) -> np.ndarray:
    """Teacher logits for every sentence, batched by length (little padding), returned in input order; the bundle's
    tokenizer makes the ids, `forward` (default: the bundle's ONNX model) the logits (or any (n, k) output)."""
    forward = forward or predictor.logits
    ids = [e.ids for e in predictor.tokenizer.encode_batch(sentences)]
    order = sorted(range(len(sentences)), key=lambda i: len(ids[i]))
    logits: np.ndarray | None = None
    for start in tqdm(range(0, len(order), batch_size), desc="teacher logits", unit="batch"):
        rows = order[start : start + batch_size]
        out = forward([ids[i] for i in rows])
        if logits is None:
            logits = np.zeros((len(sentences), out.shape[1]), dtype=np.float32)
        logits[rows] = out
    return logits if logits is not None else np.zeros((0, 2), dtype=np.float32)


def _read_cache(
    path: Path, digest: str, model_sha256: str
) -> tuple[np.ndarray, dict[str, Any], np.ndarray | None] | None:
    """The cached logits, their stored provenance and features (if stored) when the file holds this teacher's
    outputs on these sentences."""
    if not path.is_file():
        return None
    with np.load(path) as stored:
        cached = json.loads(str(stored["provenance"]))
        if cached.get("sentences_sha256") == digest and cached.get("model_sha256") == model_sha256:
            log.info("teacher logits from cache %s", path)
            features = np.asarray(stored["features"]) if "features" in stored.files else None
            return np.asarray(stored["logits"]), cached, features
    log.warning("teacher logits cache %s does not match this teacher/transfer set: recomputing", path)
    return None


def _torch_outputs(
    predictor: Predictor, sentences: list[str], batch_size: int, settings: EngineSettings, engine: str
) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, Any]]:
    """The torch engine's logits (and features when asked) if its logits agree with the bundle's on a sample
    (else None, None: with features asked, an error) and the parity figures."""
    assert settings.model_dir is not None  # choose_engine picks a torch engine only with a model directory
    teacher = TorchTeacher(settings.model_dir, predictor.pad_id, bf16=engine == "torch_bf16")
    rows = sample_rows(len(sentences), settings.parity_sentences)
    sample = [sentences[i] for i in rows]
    checked = parity(
        compute_logits(predictor, sample, batch_size, teacher.logits), compute_logits(predictor, sample, batch_size)
    )
    allowed = {"max_abs_diff": settings.max_abs_diff, "max_mean_abs_diff": settings.max_mean_abs_diff}
    figures = {**checked.as_dict(), "allowed": {**allowed, "min_agreement": settings.min_agreement}}
    measured = (
        f"|dlogit| max {checked.max_abs_diff:.3f}, mean {checked.mean_abs_diff:.4f}, agreement {checked.agreement:.4f}"
    )
    if not checked.passes(settings):
        if settings.features:
            raise ValueError(
                f"teacher run {settings.model_dir} in {engine} disagrees with its bundle on {checked.n} sentences "
                f"({measured}; allowed {figures['allowed']}), so its features cannot be trusted: re-export the "
                "teacher from this run (make export MODEL=mpnet) or set distill.feature_weight=0"
            )
        log.warning(
            "teacher run %s in %s disagrees with its bundle on %d sentences (%s; allowed %s): using the bundle's "
            "ONNX model",
            settings.model_dir,
            engine,
            checked.n,
            measured,
            figures["allowed"],
        )
        return None, None, figures
    log.info("teacher run in %s agrees with its bundle on %d sentences (%s)", engine, checked.n, measured)
    if not settings.features:
        return compute_logits(predictor, sentences, batch_size, teacher.logits), None, figures
    logits, features = teacher.split(compute_logits(predictor, sentences, batch_size, teacher.logits_and_features))
    return logits, features, figures


def load_or_compute(
    bundle_dir: Path,
    model_file: str,
    sentences: list[str],
    cache_dir: Path,
    batch_size: int = 64,
    engine: EngineSettings | None = None,
) -> TeacherLogits:
    """Cached teacher logits (and features, when `engine.features`) for the sentences; computed (and cached) when
    the teacher or sentences changed."""
    identity = teacher_identity(bundle_dir, model_file)
    digest = sentences_sha256(sentences)
    settings = engine or EngineSettings()
    choice = choose_engine(settings)
    log.info("teacher logits engine: %s (%s)", choice.engine, choice.reason)
    provenance: dict[str, Any] = {**identity, "sentences_sha256": digest, "n": len(sentences)}
    # The bundle's own logits, when cached, are the reference: good for either engine (not for features).
    for name in dict.fromkeys([choice.engine] if settings.features else [choice.engine, "onnx"]):
        path = cache_path(cache_dir, identity, digest, name, settings.features)
        cached = _read_cache(path, digest, identity["model_sha256"])
        if cached is not None:
            stored_logits, stored, stored_features = cached
            checked = {"parity": stored["parity"]} if "parity" in stored else {}
            return TeacherLogits(
                stored_logits,
                {**provenance, **checked, "engine": name, "cache": str(path), "cached": True},
                stored_features,
            )
    predictor = Predictor(Path(bundle_dir), model_file=model_file)  # verifies the bundle's hashes
    logits: np.ndarray | None = None
    features: np.ndarray | None = None
    engine_used = "onnx"
    if choice.engine in TORCH_ENGINES:
        logits, features, provenance["parity"] = _torch_outputs(
            predictor, sentences, batch_size, settings, choice.engine
        )
        engine_used = choice.engine if logits is not None else "onnx"
    if logits is None:
        logits = compute_logits(predictor, sentences, batch_size)
    path = cache_path(cache_dir, identity, digest, engine_used, features is not None)
    provenance = {**provenance, "engine": engine_used, "cache": str(path)}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    if features is None:
        np.savez(partial, logits=logits, provenance=json.dumps(provenance))
    else:
        np.savez(partial, logits=logits, features=features, provenance=json.dumps(provenance))
    partial.replace(path)
    return TeacherLogits(logits, {**provenance, "cached": False}, features)
