"""`python -m export.build [Hydra overrides]`: a trained run → a gated model bundle.

Steps: ONNX fp32 export, serving tokenizer, fp32 parity with torch, int8 quantization and its gates (on the whole
dev set), reference distribution from the served model, manifest. A failed fp32 gate means a broken export: it
leaves nothing behind and exits non-zero. A failed int8 gate does not: the bundle ships without the int8 model and
serves fp32, the manifest's `serving` section says why, and a warning gives the figures (the release's quality
gate decides what may ship).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

import hydra
from omegaconf import DictConfig, OmegaConf
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from chalice_app.chalicelib.api.predictor import Predictor
from chalice_app.chalicelib.contract.drift_reference import reference_distribution
from chalice_app.chalicelib.contract.manifest import (
    FP32_FILE,
    INT8_FILE,
    SESSION_BATCH,
    Int8Attempt,
    Int8Settings,
    Manifest,
    ManifestContent,
    ParityReport,
    ParitySection,
    ServingSection,
    TrainingSection,
    write_manifest,
)
from export.bundle import publish, write_serving_tokenizer
from export.fusion import FusionError, fuse_graph, fused_op_counts, last_layer_for_cls_only, unfuse_skip_layer_norm
from export.int8 import first_passing, int8_candidates
from export.onnx_export import export_onnx
from export.parity import (
    ExportGateError,
    Gates,
    batches,
    fp32_gate_failures,
    int8_gate_failures,
    onnx_logits,
    parity_report,
    torch_logits,
)
from export.quantize import quantize
from model_training.data.cola import read_cola_tsv
from model_training.machine import library_versions, machine_description

log = logging.getLogger(__name__)

PRECISIONS = ("int8", "fp32")


def serving_choice(preference: str, int8_built: bool, int8_failures: list[str]) -> ServingSection:
    """Which model file the bundle serves and why: int8 when it is preferred, built and within its gates."""
    if preference not in PRECISIONS:
        raise ValueError(f"export.serve_precision must be one of {', '.join(PRECISIONS)}, got {preference!r}")
    if preference == "fp32":
        return _serving(FP32_FILE, "export.serve_precision=fp32")
    if not int8_built:
        return _serving(FP32_FILE, "no int8 model built (export.quantization.int8=false)")
    if int8_failures:
        return _serving(FP32_FILE, "int8 failed its gates: " + "; ".join(int8_failures))
    return _serving(INT8_FILE, "int8 passed its gates")


def _serving(model_file: str, reason: str) -> ServingSection:
    """The serving section without session_batch (added once the shipped files are known)."""
    precision: Literal["int8", "fp32"] = "int8" if model_file == INT8_FILE else "fp32"
    return {"model_file": model_file, "precision": precision, "reason": reason, "session_batch": {}}


def build_bundle(cfg: DictConfig) -> Manifest:
    """Build, gate and publish the bundle described by cfg.export; returns its manifest."""
    ex = cfg.export
    run_dir, bundle_dir = Path(ex.run_dir), Path(ex.bundle_dir)
    metrics_file = run_dir / "metrics.json"
    if not metrics_file.is_file() or not (run_dir / "model" / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a finished training run (no metrics.json or model/); run make train")
    run_metrics = json.loads(metrics_file.read_text())
    bundle_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{bundle_dir.name}.staging-", dir=bundle_dir.parent))
    try:
        manifest = _assemble(cfg, run_dir, run_metrics, staging)
        publish(staging, bundle_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("bundle %s written to %s", manifest["model_version"], bundle_dir)
    return manifest


def _assemble(cfg: DictConfig, run_dir: Path, run_metrics: dict[str, Any], staging: Path) -> Manifest:
    ex = cfg.export
    model_dir = run_dir / "model"
    # Eager attention exports as plain MatMul/Softmax ops, which onnxruntime fuses; SDPA exports as a decomposed
    # graph (IsNaN/Where guards) that it cannot: the served int8 MiniLM ran 1.55 ms/sentence from SDPA, 1.26 eager.
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    fp32_path, int8_path = staging / FP32_FILE, staging / INT8_FILE
    log.info("exporting ONNX (opset %d)", ex.opset)
    fusion = _export_graph(
        model, fp32_path, ex.opset, ex.graph_fusion, bool(ex.last_layer_cls_only), bool(ex.unfuse_skip_layer_norm)
    )
    tokenizer_info = write_serving_tokenizer(model_dir / "tokenizer.json", staging / "tokenizer.json", ex.max_length)

    rows = read_cola_tsv(cfg.data.validation_file)
    gold = [r.label for r in rows]
    ids = tokenizer([r.sentence for r in rows], truncation=True, max_length=ex.max_length)["input_ids"]
    feeds = batches(ids, tokenizer_info["pad_id"], ex.eval_batch_size)
    log.info("parity on %d dev sentences", len(rows))
    reference = torch_logits(model, feeds)
    fp32 = onnx_logits(str(fp32_path), feeds)
    fp32_report = parity_report(reference, fp32, gold)
    gates = Gates(**OmegaConf.to_container(ex.gates, resolve=True))  # type: ignore[arg-type]
    failures = fp32_gate_failures(fp32_report, gates)
    if failures:
        raise ExportGateError("export gates failed:\n  - " + "\n  - ".join(failures))

    quantization = ex.quantization
    int8_report: ParityReport | None = None
    int8_failures: list[str] = []
    int8_section: Int8Settings | None = None
    attempts: list[Int8Attempt] = []
    if quantization.int8:
        one_per_call = batches(ids, tokenizer_info["pad_id"], SESSION_BATCH[INT8_FILE])

        def attempt(settings: Int8Settings) -> tuple[ParityReport, list[str], int]:
            kept_fp32 = quantize(
                fp32_path, int8_path, settings["per_channel"], settings["keep_fp32"], settings["reduce_range"]
            )
            # int8 is judged as it is served: one sentence per call (its dynamic activation scales are batch-dependent).
            report = parity_report(fp32, onnx_logits(str(int8_path), one_per_call), gold)
            return report, int8_gate_failures(report, gates), len(kept_fp32)

        candidates = int8_candidates(OmegaConf.to_container(quantization, resolve=True))  # type: ignore[arg-type]
        int8_report, attempts = first_passing(candidates, attempt)
        int8_section, int8_failures = attempts[-1]["settings"], attempts[-1]["failures"]
    serving = serving_choice(str(ex.serve_precision), bool(quantization.int8), int8_failures)
    if int8_failures:
        int8_path.unlink()  # a model that failed its gates does not ship
        log.warning("int8 model failed its gates, the bundle serves fp32:\n  - %s", "\n  - ".join(int8_failures))
    parity: ParitySection = {
        "split": "validation",
        "n": len(rows),
        "fp32_vs_torch": fp32_report,
        "int8_vs_fp32": int8_report,
        "int8_gate": None
        if int8_report is None
        else {"passed": not int8_failures, "failures": int8_failures, "attempts": attempts},
        "gates": vars(gates),
    }
    shipped = {name: batch for name, batch in SESSION_BATCH.items() if (staging / name).is_file()}
    training: TrainingSection = {
        "best": run_metrics["best"],
        "eval": {k: {m: v for m, v in e.items() if m != "confusion_matrix"} for k, e in run_metrics["eval"].items()},
        "data": run_metrics["data"],
        "encoder": run_metrics["model"],
    }
    if "distillation" in run_metrics:  # a distilled student names its teacher (version, metrics) and how it was taught
        training["distillation"] = run_metrics["distillation"]
    labels = [str(name) for name in run_metrics.get("labels") or cfg.data.labels]
    content: ManifestContent = {
        "labels": labels,
        "model_name": cfg.model.name,
        "run_name": cfg.run_name,
        "tokenizer": tokenizer_info,
        "serving": {**serving, "session_batch": shipped},
        "onnx": {"opset": ex.opset, "graph_fusion": fusion, "int8": int8_section},
        "training": training,
        "parity": parity,
        # Where the weights were trained and where the bundle was exported (bit-identical only on one fingerprint).
        "machine": {"training": run_metrics.get("machine"), "export": None},
        "source_config": run_metrics["config"],
        "libraries": library_versions(),
    }
    write_manifest(staging, content)
    # The reference distribution comes from the runtime predictor itself: exactly what serving will see.
    predictor = Predictor(staging, model_file=serving["model_file"])
    content["reference"] = reference_distribution(predictor.predict([r.sentence for r in rows]), labels, "validation")
    threads = predictor.session.get_session_options().intra_op_num_threads
    content["machine"]["export"] = machine_description(onnxruntime_intra_op_threads=threads)
    return write_manifest(staging, content)


def _export_graph(
    model: Any, fp32_path: Path, opset: int, graph_fusion: str | None, cls_only: bool, unfuse_skip_norm: bool = False
) -> dict[str, Any] | None:
    """Export the fp32 graph to `fp32_path`, fused with onnxruntime's transformer optimizer when `graph_fusion`
    names a model type (its last layer cut to the [CLS] row when `cls_only`, its SkipLayerNormalization nodes
    written back as Add + LayerNormalization when `unfuse_skip_norm`); returns what was done (None when the graph
    was exported as it is)."""
    if not graph_fusion:
        export_onnx(model, fp32_path, opset=opset)
        return None
    exported = fp32_path.with_name(".exported.onnx")  # a hidden scratch file: removed before hashing
    try:
        export_onnx(model, exported, opset=opset)
        log.info("fusing the graph (onnxruntime transformer optimizer, model type %s)", graph_fusion)
        ops = fuse_graph(exported, fp32_path, graph_fusion, model.config.num_attention_heads, model.config.hidden_size)
    finally:
        exported.unlink(missing_ok=True)
    if cls_only:
        log.info("last layer: [CLS] row only after attention")
        last_layer_for_cls_only(fp32_path)
    unfused = 0
    if unfuse_skip_norm:
        log.info("SkipLayerNormalization written as Add + LayerNormalization (faster CPU kernels)")
        unfused = unfuse_skip_layer_norm(fp32_path)
        ops = fused_op_counts(fp32_path)
    return {"model_type": graph_fusion, "ops": ops, "last_layer_cls_only": cls_only, "unfused_skip_layer_norm": unfused}


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
def main(cfg: DictConfig) -> None:
    try:
        manifest = build_bundle(cfg)
    except (ExportGateError, FileNotFoundError, FusionError, ValueError) as err:
        log.error("%s", err)
        sys.exit(1)
    print(export_summary(manifest, str(cfg.export.bundle_dir)))


def export_summary(manifest: Manifest, bundle_dir: str) -> str:
    """What `make export` prints: the version, the parity figures and which model is served (a warning when int8
    was built but failed its gates)."""
    p, serving = manifest["parity"], manifest["serving"]
    fp32 = p["fp32_vs_torch"]
    lines = [
        f"bundle {manifest['model_version']} → {bundle_dir}",
        f"  fp32 vs torch: max |Δlogit| {fp32['max_abs_logit_diff']:.2e}, "
        f"agreement {fp32['prediction_agreement']:.4f}; MCC torch {fp32['reference']['mcc']:.4f}, "
        f"fp32 {fp32['candidate']['mcc']:.4f}",
    ]
    int8 = p.get("int8_vs_fp32")
    if int8 is not None:
        lines.append(
            f"  int8: MCC {int8['candidate']['mcc']:.4f}, agreement with fp32 {int8['prediction_agreement']:.4f} "
            f"(gates: agreement ≥ {p['gates']['int8_min_agreement']}, MCC drop ≤ {p['gates']['int8_max_mcc_drop']})"
        )
    gate = p["int8_gate"]
    attempts: list[Int8Attempt] = gate.get("attempts", []) if gate is not None else []
    for n, tried in enumerate(attempts[:-1], 1):
        lines.append(
            f"  int8 attempt {n} (reduce_range={tried['settings']['reduce_range']}, fp32 MatMuls: "
            f"{', '.join(tried['settings']['keep_fp32']) or 'none'}) failed: " + "; ".join(tried["failures"])
        )
    lines.append(f"  serves {serving['model_file']} ({serving['precision']}): {serving['reason']}")
    if int8 is not None and gate is not None and not gate["passed"]:
        lines.append(
            "WARNING: the int8 model failed its gates and was left out; this bundle serves fp32 (slower, same "
            "predictions as torch). Tune export.quantization (per_channel, keep_fp32, fallbacks) and re-export."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
