"""`python -m export.build [Hydra overrides]`: a trained run → a gated model bundle.

Steps: ONNX fp32 export, int8 quantization, serving tokenizer, parity gates on the whole dev set, reference
distribution from the served model, manifest. A failed gate leaves nothing behind and exits non-zero.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from chalice_app.chalicelib.predictor import Predictor
from export.bundle import publish, reference_distribution, write_manifest, write_serving_tokenizer
from export.fusion import FusionError, fuse_graph, last_layer_for_cls_only
from export.onnx_export import export_onnx
from export.parity import ExportGateError, Gates, batches, check_gates, onnx_logits, parity_report, torch_logits
from export.quantize import quantize
from model_training.data import read_cola_tsv

log = logging.getLogger(__name__)

SESSION_BATCH = {"model.onnx": 0, "model.int8.onnx": 1}
"""Sentences per onnxruntime call when serving each file (0: the whole request at once)."""


def build_bundle(cfg: DictConfig) -> dict[str, Any]:
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


def _assemble(cfg: DictConfig, run_dir: Path, run_metrics: dict[str, Any], staging: Path) -> dict[str, Any]:
    ex = cfg.export
    model_dir = run_dir / "model"
    # Eager attention exports as plain MatMul/Softmax ops, which onnxruntime fuses; SDPA exports as a decomposed
    # graph (IsNaN/Where guards) that it cannot: the served int8 MiniLM ran 1.55 ms/sentence from SDPA, 1.26 eager.
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    fp32_path, int8_path = staging / "model.onnx", staging / "model.int8.onnx"
    log.info("exporting ONNX (opset %d)", ex.opset)
    fusion = _export_graph(model, fp32_path, ex.opset, ex.graph_fusion, bool(ex.last_layer_cls_only))
    log.info("quantizing to int8 (per_channel=%s)", ex.quantization.per_channel)
    keep_fp32 = list(ex.quantization.keep_fp32)
    kept_fp32 = quantize(fp32_path, int8_path, ex.quantization.per_channel, keep_fp32)
    tokenizer_info = write_serving_tokenizer(model_dir / "tokenizer.json", staging / "tokenizer.json", ex.max_length)

    rows = read_cola_tsv(cfg.data.validation_file)
    labels = [r.label for r in rows]
    ids = tokenizer([r.sentence for r in rows], truncation=True, max_length=ex.max_length)["input_ids"]
    feeds = batches(ids, tokenizer_info["pad_id"], ex.eval_batch_size)
    log.info("parity on %d dev sentences", len(rows))
    reference = torch_logits(model, feeds)
    fp32 = onnx_logits(str(fp32_path), feeds)
    # int8 is judged as it is served: one sentence per call (its dynamic activation scales are batch-dependent).
    int8 = onnx_logits(str(int8_path), batches(ids, tokenizer_info["pad_id"], SESSION_BATCH["model.int8.onnx"]))
    fp32_report, int8_report = parity_report(reference, fp32, labels), parity_report(fp32, int8, labels)
    gates = Gates(**OmegaConf.to_container(ex.gates, resolve=True))  # type: ignore[arg-type]
    parity = {
        "split": "validation",
        "n": len(rows),
        "fp32_vs_torch": fp32_report,
        "int8_vs_fp32": int8_report,
        "gates": vars(gates),
    }
    failures = check_gates(fp32_report, int8_report, gates)
    if failures:
        raise ExportGateError("export gates failed:\n  - " + "\n  - ".join(failures))

    content = {
        "model_name": cfg.model.name,
        "run_name": cfg.run_name,
        "tokenizer": tokenizer_info,
        "serving": {"model_file": ex.serve_model_file, "session_batch": SESSION_BATCH},
        "onnx": {
            "opset": ex.opset,
            "graph_fusion": fusion,
            "int8": {
                "per_channel": bool(ex.quantization.per_channel),
                "keep_fp32": keep_fp32,
                "fp32_nodes": len(kept_fp32),
            },
        },
        "training": {
            "best": run_metrics["best"],
            "eval": {
                k: {m: v for m, v in e.items() if m != "confusion_matrix"} for k, e in run_metrics["eval"].items()
            },
            "data": run_metrics["data"],
            "encoder": run_metrics["model"],
            # A distilled student names its teacher (version, metrics) and how it was taught.
            **({"distillation": run_metrics["distillation"]} if "distillation" in run_metrics else {}),
        },
        "parity": parity,
        "source_config": run_metrics["config"],
    }
    write_manifest(staging, content)
    # The reference distribution comes from the runtime predictor itself: exactly what serving will see.
    predictor = Predictor(staging, model_file=ex.serve_model_file)
    content["reference"] = reference_distribution(predictor.predict([r.sentence for r in rows]), "validation")
    return write_manifest(staging, content)


def _export_graph(
    model: Any, fp32_path: Path, opset: int, graph_fusion: str | None, cls_only: bool
) -> dict[str, Any] | None:
    """Export the fp32 graph to `fp32_path`, fused with onnxruntime's transformer optimizer when `graph_fusion`
    names a model type (and its last layer cut to the [CLS] row when `cls_only`); returns what was done (None
    when the graph was exported as it is)."""
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
    return {"model_type": graph_fusion, "ops": ops, "last_layer_cls_only": cls_only}


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
def main(cfg: DictConfig) -> None:
    try:
        manifest = build_bundle(cfg)
    except (ExportGateError, FileNotFoundError, FusionError) as err:
        log.error("%s", err)
        sys.exit(1)
    p = manifest["parity"]
    print(
        f"bundle {manifest['model_version']} → {cfg.export.bundle_dir}\n"
        f"  fp32 vs torch: max |Δlogit| {p['fp32_vs_torch']['max_abs_logit_diff']:.2e}, "
        f"agreement {p['fp32_vs_torch']['prediction_agreement']:.4f}\n"
        f"  MCC torch {p['fp32_vs_torch']['reference']['mcc']:.4f}, fp32 {p['int8_vs_fp32']['reference']['mcc']:.4f}, "
        f"int8 {p['int8_vs_fp32']['candidate']['mcc']:.4f} (agreement {p['int8_vs_fp32']['prediction_agreement']:.4f})"
    )


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
