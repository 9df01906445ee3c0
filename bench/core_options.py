"""The served core against variants of its model and its onnxruntime session, in one interleaved run.

`python -m bench.core_options --bundle NAME=DIR [--bundle ...] [--variants A,B] [--rounds N]`
→ bench/results/core_options.{json,md}; the variants and the run's sizes: conf/bench/core_options.yaml.

Every variant is the runtime predictor (chalicelib/api/predictor.py) with its session, or its model, changed one way.
Per round each variant runs once (order reversed every other round, so the machine's busy spells fall on all of
them): `single_sentences` dev sentences one at a time through predict([sentence]), then the whole dev set in batches
of `batch_size`. Reported per variant: p50 and p95 of the single-sentence calls pooled over rounds, the median
batch throughput, and, from the batch predictions, agreement with the bundle's fp32 model and dev MCC: the int8
gates of conf/export/default.yaml. Ratios are against `served` (the predictor as it ships).
"""

from __future__ import annotations

import argparse
import bisect
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import yaml

from bench.machine import machine_info
from chalice_app.chalicelib.api.predictor import Predictor, inference_session, pad_batch, session_options
from chalice_app.chalicelib.contract.manifest import Int8Settings
from model_training.data.cola import read_cola_tsv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CONFIG = ROOT / "conf" / "bench" / "core_options.yaml"
GATES = ROOT / "conf" / "export" / "default.yaml"
DEV_FILE = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"
TRAIN_FILE = ROOT / "data" / "cola" / "raw" / "in_domain_train.tsv"
MODELS = ("served", "unfused_skip_layer_norm", "constant_token_type", "int8_fallback", "static_qoperator", "static_qdq")
LEVELS = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "offline": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}


class ConfigError(ValueError):
    """The benchmark's configuration is wrong; the message names the key."""


@dataclass(frozen=True)
class Variant:
    """One way the served core could run: a model and what its session changes from the predictor's."""

    model: str = "served"
    threads: int | None = None
    spinning: bool | None = None
    graph_optimization: str | None = None
    mem_pattern: bool | None = None
    cpu_mem_arena: bool | None = None
    thread_affinity: str | None = None
    io_binding: bool = False

    def changes_model(self) -> bool:
        return self.model != "served"


@dataclass(frozen=True)
class CoreConfig:
    """conf/bench/core_options.yaml, checked."""

    rounds: int
    warmup: int
    single_sentences: int
    batch_size: int
    profile_sentences: int
    calibration_sentences: int
    calibration_seed: int
    variants: dict[str, Variant]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> CoreConfig:
        """The config from parsed YAML; ConfigError names a missing, unknown or wrong key."""
        try:
            variants = {}
            for name, spec in raw["variants"].items():
                try:
                    variants[str(name)] = Variant(**(spec or {}))
                except TypeError as err:
                    keys = ", ".join(Variant.__dataclass_fields__)
                    raise ConfigError(f"variant {name!r}: {err} (keys: {keys})") from None
            config = cls(
                rounds=int(raw["rounds"]),
                warmup=int(raw["warmup"]),
                single_sentences=int(raw["single_sentences"]),
                batch_size=int(raw["batch_size"]),
                profile_sentences=int(raw["profile_sentences"]),
                calibration_sentences=int(raw["calibration"]["sentences"]),
                calibration_seed=int(raw["calibration"]["seed"]),
                variants=variants,
            )
        except KeyError as err:
            raise ConfigError(f"missing key {err} (see conf/bench/core_options.yaml)") from None
        except (TypeError, ValueError, AttributeError) as err:
            if isinstance(err, ConfigError):
                raise
            raise ConfigError(f"a value has the wrong type: {err} (see conf/bench/core_options.yaml)") from None
        config.validate()
        return config

    def validate(self) -> None:
        for key in ("rounds", "single_sentences", "batch_size", "profile_sentences", "calibration_sentences"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be at least 1, got {getattr(self, key)}")
        if "served" not in self.variants or self.variants["served"] != Variant():
            raise ConfigError("variants must hold `served: {}`: the configuration every ratio is measured against")
        for name, variant in self.variants.items():
            if variant.model not in MODELS:
                choices = ", ".join(MODELS)
                raise ConfigError(f"variant {name!r}: unknown model {variant.model!r} (choose from {choices})")
            if variant.graph_optimization is not None and variant.graph_optimization not in LEVELS:
                raise ConfigError(
                    f"variant {name!r}: unknown graph_optimization {variant.graph_optimization!r} "
                    f"(choose from {', '.join(LEVELS)})"
                )
            if variant.threads is not None and variant.threads < 1:
                raise ConfigError(f"variant {name!r}: threads must be at least 1, got {variant.threads}")

    def only(self, names: list[str]) -> CoreConfig:
        """The config with `served` and the named variants only."""
        unknown = [n for n in names if n not in self.variants]
        if unknown:
            raise ConfigError(f"unknown variant(s) {unknown}: choose from {', '.join(self.variants)}")
        keep = {n: v for n, v in self.variants.items() if n == "served" or n in names}
        return CoreConfig(**{**self.__dict__, "variants": keep})


def load_config(path: Path = CONFIG) -> CoreConfig:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: {err}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping of settings")
    return CoreConfig.from_mapping(raw)


class VariantPredictor(Predictor):
    """The runtime predictor on `model_path`, its sessions made with the variant's options."""

    def __init__(self, bundle: Path, model_path: Path, variant: Variant, work: Path) -> None:
        self.variant, self.model_path, self.work = variant, model_path, work
        threads = variant.threads
        super().__init__(bundle, threads=threads)

    def _session(self, threads: int) -> ort.InferenceSession:
        v = self.variant
        options = session_options(threads)
        if v.spinning is not None:
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if v.spinning else "0")
        if v.mem_pattern is not None:
            options.enable_mem_pattern = v.mem_pattern
        if v.cpu_mem_arena is not None:
            options.enable_cpu_mem_arena = v.cpu_mem_arena
        if v.thread_affinity and threads > 1:
            options.add_session_config_entry("session.intra_op_thread_affinities", v.thread_affinity)
        model = self.model_path
        if v.graph_optimization == "offline":
            model = self.work / f"{model.stem}.optimized.onnx"
            if not model.is_file():
                saving = session_options(1)
                saving.graph_optimization_level = LEVELS["extended"]
                saving.optimized_model_filepath = str(model)
                inference_session(self.model_path, saving)
        if v.graph_optimization is not None:
            options.graph_optimization_level = LEVELS[v.graph_optimization]
        return inference_session(model, options)

    def logits(self, token_ids: list[list[int]], session: ort.InferenceSession | None = None) -> np.ndarray:
        if not self.variant.io_binding:
            return super().logits(token_ids, session)
        session = session or self.session
        binding = session.io_binding()
        feeds = pad_batch(token_ids, self.pad_id)
        for name in self.input_names:
            binding.bind_cpu_input(name, feeds[name])
        out = np.empty((len(token_ids), len(self.labels)), dtype=np.float32)
        binding.bind_output(self.output_names[0], "cpu", 0, np.float32, list(out.shape), out.ctypes.data)
        session.run_with_iobinding(binding)
        return out


def build_model(kind: str, bundle: Path, served: Path, target: Path, calibration: list[list[int]], pad_id: int) -> Path:
    """The model file of a variant: the served one, or one written to `target` from the bundle's models."""
    if kind == "served":
        return served
    if kind == "unfused_skip_layer_norm":
        from export.fusion import unfuse_skip_layer_norm

        unfuse_skip_layer_norm(served, target)
        return target
    if kind == "constant_token_type":
        from export.fusion import unfuse_skip_layer_norm
        from export.quantize import quantize

        folded = target.with_suffix(".fp32.onnx")
        fold_token_type(bundle / "model.onnx", folded, calibration[:20], pad_id)
        settings = json.loads((bundle / "manifest.json").read_text())["onnx"]["int8"] or {}
        quantize(folded, target, bool(settings.get("per_channel")), [], bool(settings.get("reduce_range")))
        unfuse_skip_layer_norm(target)
        return target
    if kind == "int8_fallback":
        from export.quantize import quantize

        setting = int8_fallback(json.loads((bundle / "manifest.json").read_text())["model_name"])
        quantize(bundle / "model.onnx", target, setting["per_channel"], setting["keep_fp32"], setting["reduce_range"])
        return target
    static_quantize(bundle / "model.onnx", target, calibration, pad_id, kind.removeprefix("static_"))
    return target


def int8_fallback(model_name: str) -> Int8Settings:
    """The first int8 fallback of the encoder's export settings (conf/export/<model>.yaml): what a bundle serves
    when its base int8 setting misses the gates."""
    from export.int8 import int8_candidates

    path = ROOT / "conf" / "export" / f"{model_name}.yaml"
    candidates = int8_candidates(yaml.safe_load(path.read_text())["quantization"])
    if len(candidates) < 2:
        raise ConfigError(f"{path.relative_to(ROOT)} has no quantization.fallbacks: nothing to time as int8_fallback")
    return candidates[1]


def fold_token_type(source: Path, target: Path, check: list[list[int]], pad_id: int) -> None:
    """The fp32 graph with its token-type embedding branch replaced by the row of type 0 (the predictor never feeds
    token types: the exported graph fills them with zeros from a buffer); unused nodes dropped. Refuses a graph
    whose logits on `check` sentences move by more than 1e-4 (then the branch was not constant)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    gathers = [n for n in graph.node if n.op_type == "Gather" and "token_type_embeddings" in n.input[0]]
    if len(gathers) != 1:
        raise ValueError(f"{source.name}: expected one token-type embedding Gather, found {len(gathers)}")
    (gather,) = gathers
    table = next(numpy_helper.to_array(i) for i in graph.initializer if i.name == gather.input[0])
    graph.initializer.append(numpy_helper.from_array(table[0].astype(np.float32), "token_type_row"))
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name == gather.output[0]:
                node.input[index] = "token_type_row"
    needed = {o.name for o in graph.output}
    kept: list[onnx.NodeProto] = []
    for node in reversed(list(graph.node)):
        if node is not gather and any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = {name for node in graph.node for name in node.input}
    unused = [i for i in graph.initializer if i.name not in used]
    for initializer in unused:
        graph.initializer.remove(initializer)
    onnx.save(model, str(target))
    before = inference_session(source, session_options(1))
    after = inference_session(target, session_options(1))
    for ids in check:
        feeds = pad_batch([ids], pad_id)
        drift = float(np.max(np.abs(before.run(None, feeds)[0] - after.run(None, feeds)[0])))
        if drift > 1e-4:
            raise ValueError(f"{source.name}: folding the token types moved the logits by {drift}: not constant")


def static_quantize(source: Path, target: Path, calibration: list[list[int]], pad_id: int, fmt: str) -> None:
    """Static int8: u8 activations with ranges calibrated (min-max) on `calibration` sentences, s8 per-channel
    weights, in `fmt` (qoperator or qdq); then the fused attention, which has no static form, quantized dynamically."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    class Reader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime.quantization is untyped
        def __init__(self) -> None:
            self.rows = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            row = next(self.rows, None)
            return None if row is None else pad_batch([row], pad_id)

    # The fused graph's contrib ops need onnxruntime's symbolic shape inference before activations can be typed.
    shaped = target.with_suffix(".shapes.onnx")
    onnx.save(SymbolicShapeInference.infer_shapes(onnx.load(str(source)), auto_merge=True), str(shaped))
    staged = target.with_suffix(".static.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs per tensor on the root logger
    try:
        quantize_static(
            str(shaped),
            str(staged),
            Reader(),
            quant_format=QuantFormat.QOperator if fmt == "qoperator" else QuantFormat.QDQ,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        quantize_dynamic(
            str(staged),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["Attention"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


def op_profiles(models: dict[str, Path], token_ids: list[list[int]], pad_id: int, rounds: int, work: Path) -> Any:
    """Microseconds per sentence spent in each op type, per model (onnxruntime's profiler, one thread, one
    sentence per call, the predictor's session otherwise), largest first. The sentences are split over `rounds`
    interleaved rounds, as the timings are, so a busy spell of the machine falls on every model alike."""
    sessions = {}
    for kind, model in models.items():
        options = session_options(1)
        options.enable_profiling = True
        options.profile_file_prefix = str(work / f"profile-{kind}")
        sessions[kind] = inference_session(model, options)
    chunks = [token_ids[r::rounds] for r in range(rounds)]
    for r, chunk in enumerate(chunks):
        for kind in list(sessions) if r % 2 == 0 else list(reversed(sessions)):
            for ids in chunk:
                sessions[kind].run(None, pad_batch([ids], pad_id))
    return {kind: per_op_medians(json.loads(Path(s.end_profiling()).read_text())) for kind, s in sessions.items()}


def per_op_medians(events: list[dict[str, Any]]) -> dict[str, float]:
    """From onnxruntime's profile events: per op type, the median over session runs of its kernels' microseconds
    in one run (a median: one busy spell of a shared machine moves a mean), largest first; `all kernels`: the
    median of a run's kernel total."""
    runs = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e["name"] == "model_run")
    per_run: list[dict[str, float]] = [{} for _ in runs]
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            run = per_run[max(bisect.bisect_right(runs, event["ts"]) - 1, 0)]
            op = event["args"]["op_name"]
            run[op] = run.get(op, 0.0) + event["dur"]
    ops = {op for run in per_run for op in run}
    medians = {op: statistics.median(run.get(op, 0.0) for run in per_run) for op in ops}
    ordered = {op: round(us, 1) for op, us in sorted(medians.items(), key=lambda item: -item[1])}
    return {**ordered, "all kernels": round(statistics.median(sum(run.values()) for run in per_run), 1)}


class _FixedLogits:
    """A stand-in session answering fixed logits at once: what remains of predict() is the predictor's own work."""

    def __init__(self, labels: int) -> None:
        self.logits = np.zeros((1, labels), dtype=np.float32)

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [self.logits]


def python_overhead_ms(predictor: Predictor, sentences: list[str]) -> float:
    """p50 of predict([sentence]) with the session replaced by _FixedLogits: tokenizing, padding, softmax and the
    Prediction objects, without the model."""
    session = predictor.session
    predictor.session = _FixedLogits(len(predictor.labels))
    try:
        times = []
        for text in sentences:
            start = time.perf_counter()
            predictor.predict([text])
            times.append((time.perf_counter() - start) * 1e3)
    finally:
        predictor.session = session
    return round(statistics.median(times), 4)


def mcc(gold: list[int], predicted: list[int]) -> float:
    from export.evaluate import binary_report

    return float(binary_report(gold, predicted)["mcc"])


def measure_bundle(name: str, bundle: Path, config: CoreConfig, work: Path) -> dict[str, Any]:
    """Every variant of one bundle, interleaved over `config.rounds` rounds."""
    rows = read_cola_tsv(DEV_FILE)
    sentences, gold = [r.sentence for r in rows], [r.label for r in rows]
    fp32 = Predictor(bundle, model_file="model.onnx")
    fp32_labels = [fp32.labels.index(p.label) for p in fp32.predict(sentences)]
    served_file = bundle / fp32.manifest["serving"]["model_file"]
    train = [r.sentence for r in read_cola_tsv(TRAIN_FILE)]
    picked = np.random.default_rng(config.calibration_seed).choice(len(train), config.calibration_sentences, False)
    calibration = [e.ids for e in fp32.tokenizer.encode_batch([train[int(i)] for i in picked])]
    pad_id = fp32.pad_id
    del fp32

    models: dict[str, Path] = {}
    predictors: dict[str, VariantPredictor] = {}
    for vname, variant in config.variants.items():
        if variant.model not in models:
            print(f"{name}: building the {variant.model} model", flush=True)
            target = work / f"{name}-{variant.model}.onnx"
            models[variant.model] = build_model(variant.model, bundle, served_file, target, calibration, pad_id)
        predictors[vname] = VariantPredictor(bundle, models[variant.model], variant, work)

    print(f"{name}: op profiles", flush=True)
    profiled = [e.ids for e in predictors["served"].tokenizer.encode_batch(sentences[: config.profile_sentences])]
    profiles = op_profiles(models, profiled, pad_id, config.rounds, work)

    single = sentences[: config.single_sentences]
    timings: dict[str, list[float]] = {v: [] for v in predictors}
    round_p50: dict[str, list[float]] = {v: [] for v in predictors}
    throughput: dict[str, list[float]] = {v: [] for v in predictors}
    predicted: dict[str, list[int]] = {}
    for predictor in predictors.values():
        for text in single[: config.warmup]:
            predictor.predict([text])
    for r in range(config.rounds):
        order = list(predictors) if r % 2 == 0 else list(reversed(predictors))
        print(f"{name}: round {r + 1}/{config.rounds}", flush=True)
        for vname in order:
            predictor = predictors[vname]
            times = []
            for text in single:
                start = time.perf_counter()
                predictor.predict([text])
                times.append((time.perf_counter() - start) * 1e3)
            timings[vname] += times
            round_p50[vname].append(round(statistics.median(times), 3))
            labels: list[int] = []
            start = time.perf_counter()
            for i in range(0, len(sentences), config.batch_size):
                answers = predictor.predict(sentences[i : i + config.batch_size])
                labels += [predictor.labels.index(p.label) for p in answers]
            throughput[vname].append(len(sentences) / (time.perf_counter() - start))
            predicted.setdefault(vname, labels)

    python_ms = python_overhead_ms(predictors["served"], single)
    fp32_mcc = mcc(gold, fp32_labels)
    result: dict[str, Any] = {
        "bundle": str(bundle),
        "fp32_mcc": round(fp32_mcc, 4),
        "python_p50_ms": python_ms,
        "op_profile_us_per_sentence": profiles,
        "variants": {},
    }
    for vname, variant in config.variants.items():
        p50, p95 = np.percentile(timings[vname], [50, 95])
        agreement = float(np.mean(np.asarray(predicted[vname]) == np.asarray(fp32_labels)))
        variant_mcc = mcc(gold, predicted[vname])
        result["variants"][vname] = {
            "variant": asdict(variant),
            "changes_model": variant.changes_model(),
            "p50_ms": round(float(p50), 3),
            "p95_ms": round(float(p95), 3),
            "p50_ms_per_round": round_p50[vname],
            "batch_sentences_per_s": round(statistics.median(throughput[vname]), 1),
            "batch_sentences_per_s_per_round": [round(x, 1) for x in throughput[vname]],
            "agreement": round(agreement, 4),
            "mcc": round(variant_mcc, 4),
            "mcc_drop": round(fp32_mcc - variant_mcc, 4),
        }
    served = result["variants"]["served"]
    for row in result["variants"].values():
        row["p50_speedup"] = round(served["p50_ms"] / row["p50_ms"], 3)
        row["p95_speedup"] = round(served["p95_ms"] / row["p95_ms"], 3)
        row["batch_ratio"] = round(row["batch_sentences_per_s"] / served["batch_sentences_per_s"], 3)
    return result


def gates() -> dict[str, float]:
    """The int8 gates the export applies (conf/export/default.yaml)."""
    raw = yaml.safe_load(GATES.read_text())["gates"]
    return {"min_agreement": float(raw["int8_min_agreement"]), "max_mcc_drop": float(raw["int8_max_mcc_drop"])}


def markdown(results: dict[str, Any]) -> str:
    m, g = results["machine"], results["gates"]
    lines = [
        "# The served core against session and model variants (one interleaved run)",
        "",
        f"Command: `{results['command']}`. Machine: {m['processor']}, {m['cpu_count']} CPUs ({m['fingerprint']}), "
        f"load average {m['load_average_at_start']} at start and {results['load_average_at_end']} at the end, "
        f"onnxruntime {m.get('onnxruntime')}. Settings: {results['settings']}.",
        "",
        "Speed-ups are the served p50 (p95) over the variant's, batch ratio the variant's throughput over the "
        "served one's (above 1: better). Gates (int8, against the bundle's fp32 model on the dev set): agreement "
        f">= {g['min_agreement']}, MCC drop <= {g['max_mcc_drop']}. `(model)` marks a variant that changes the "
        "model; on a bundle exported with `export.unfuse_skip_layer_norm` the served model is already unfused.",
    ]
    for name, bundle in results["bundles"].items():
        lines += [
            "",
            f"## {name} (fp32 dev MCC {bundle['fp32_mcc']:.4f})",
            "",
            "| variant | p50 ms | p95 ms | p50 speed-up | p95 speed-up | batch-32 sent/s | batch ratio | agreement | "
            "dev MCC | gates | p50 per round |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for vname, r in bundle["variants"].items():
            ok = r["agreement"] >= g["min_agreement"] and r["mcc_drop"] <= g["max_mcc_drop"]
            lines.append(
                f"| {vname}{' (model)' if r['changes_model'] else ''} | {r['p50_ms']} | {r['p95_ms']} | "
                f"{r['p50_speedup']:.2f}x | {r['p95_speedup']:.2f}x | {r['batch_sentences_per_s']} | "
                f"{r['batch_ratio']:.2f}x | {r['agreement']:.4f} | {r['mcc']:.4f} | {'pass' if ok else 'FAIL'} | "
                f"{', '.join(map(str, r['p50_ms_per_round']))} |"
            )
        lines += [
            "",
            f"Of the served p50, {bundle['python_p50_ms']} ms is the predictor's own work (tokenizer, padding, "
            "softmax, the answer's objects): predict() with the session replaced by one answering fixed logits.",
        ]
        profiles = bundle["op_profile_us_per_sentence"]
        kinds = list(profiles)
        ops = [op for op in profiles[kinds[0]] if op != "all kernels"]
        ops += sorted({op for p in profiles.values() for op in p} - {*ops, "all kernels"})
        lines += [
            "",
            f"Where a sentence's time goes, per model ({results['settings']['profile_sentences']} dev sentences, "
            "onnxruntime's profiler, one thread, models interleaved over the rounds; the median over sentences of "
            "the microseconds in each op type's kernels):",
            "",
            "| op type | " + " | ".join(kinds) + " |",
            "|---|" + "---|" * len(kinds),
            *(f"| {op} | " + " | ".join(str(profiles[k].get(op, "-")) for k in kinds) + " |" for op in ops),
            "| **all kernels** | " + " | ".join(f"**{profiles[k]['all kernels']}**" for k in kinds) + " |",
        ]
    lines += ["", "Variants (conf/bench/core_options.yaml; unset fields: the predictor's own session options):", ""]
    lines += [f"- {n}: {v}" for n, v in results["variants"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", action="append", default=[], help="NAME=DIR of a bundle (model.onnx + served)")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--variants", default=None, help="comma-separated variant names (served is always run)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--single-sentences", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "core_options")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if args.variants:
            config = config.only([v.strip() for v in args.variants.split(",") if v.strip()])
        overrides = {"rounds": args.rounds, "single_sentences": args.single_sentences}
        config = CoreConfig(**{**config.__dict__, **{k: v for k, v in overrides.items() if v is not None}})
        config.validate()
    except ConfigError as err:
        parser.error(str(err))
    bundles = {spec.partition("=")[0]: Path(spec.partition("=")[2]) for spec in args.bundle}
    if not bundles or any(not name or not str(path) for name, path in bundles.items()):
        parser.error("give at least one --bundle NAME=DIR")
    for name, bundle in bundles.items():
        if not (bundle / "manifest.json").is_file() or not (bundle / "model.onnx").is_file():
            parser.error(f"bundle {name}: {bundle} has no manifest.json and model.onnx (export it first: make export)")
    machine = machine_info(("onnxruntime", "numpy", "tokenizers"))
    measured = {}
    with tempfile.TemporaryDirectory(prefix="core-options-") as work:
        for name, bundle in bundles.items():
            (Path(work) / name).mkdir()  # one folder per bundle: their model files share names
            measured[name] = measure_bundle(name, bundle, config, Path(work) / name)
    command = "python -m bench.core_options " + " ".join(argv if argv is not None else sys.argv[1:])
    settings = {k: v for k, v in config.__dict__.items() if k != "variants"}
    results = {
        "command": command,
        "machine": machine,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "settings": settings,
        "gates": gates(),
        "variants": {n: {k: v for k, v in asdict(x).items() if v is not None} for n, x in config.variants.items()},
        "bundles": measured,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
