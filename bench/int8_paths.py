"""int8 against fp32 on more than one CPU code path: which quantisation settings keep the gates with a margin.

`python -m bench.int8_paths --bundle NAME=DIR ... [--paths native,avx2] [--settings ...]`
→ bench/results/int8_paths.{json,md}.

onnxruntime's int8 kernels (MLAS) are chosen per CPU from CPUID: AMX or AVX512-VNNI on recent Intel and AMD Zen 4,
AVX2 without VNNI on older machines, where u8 x s8 products go through VPMADDUBSW, whose int16 sums saturate
(onnxruntime's quantization docs name reduce_range or u8 weights for that case). Each bundle's fp32 model is
quantised with every setting (the quantiser's output does not depend on the CPU), then fp32 and int8 logits of the
whole dev set are computed, one sentence per call as served, on each code path:

  native   this machine's CPU as it is
  avx2     the same binaries under `qemu-x86_64-static -cpu Haswell` (Debian's qemu-user-static): CPUID reports an
           AVX2 CPU without AVX-512, VNNI or AMX, so onnxruntime dispatches its AVX2 kernels (slow: emulated)

Agreement and MCC drop are computed per path against that path's own fp32 logits, as the export gate does on the
machine that runs it. A setting is chosen by its worst path, not its best.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import machine_info
from model_training.data.cola import read_cola_tsv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEV_FILE = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"
QEMU = "qemu-x86_64-static"

SETTINGS: dict[str, dict[str, Any]] = {
    "s8 per-channel": {"per_channel": True, "reduce_range": False, "weight_type": "QInt8"},
    "s8 per-channel reduce-range": {"per_channel": True, "reduce_range": True, "weight_type": "QInt8"},
    "u8 per-channel": {"per_channel": True, "reduce_range": False, "weight_type": "QUInt8"},
    "s8 per-channel out-proj-fp32": {
        "per_channel": True,
        "reduce_range": False,
        "weight_type": "QInt8",
        "keep_fp32": [r"layer\.\d+/output/dense/MatMul", r"/attn/o/MatMul", r"attention/output/dense/MatMul"],
    },
}
"""Dynamic int8 settings compared (weights quantised ahead of time, activations per call)."""

PATHS = {"native": [], "avx2": [QEMU, "-cpu", "Haswell"]}


def quantize_variant(source: Path, target: Path, setting: dict[str, Any]) -> None:
    """Quantise `source` with one setting, through the export's own quantiser."""
    from export.quantize import quantize

    quantize(
        source,
        target,
        per_channel=setting["per_channel"],
        keep_fp32=setting.get("keep_fp32", []),
        reduce_range=setting["reduce_range"],
        weight_type=setting["weight_type"],
    )


def logits_worker(models: list[str], tokenizer: str, pad_id: int, max_length: int, out: str) -> None:
    """In this process (whatever CPU it sees): logits of every model on the dev set, one sentence per call."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from chalice_app.chalicelib.api.predictor import pad_batch

    tok = Tokenizer.from_file(tokenizer)
    tok.enable_truncation(max_length)
    tok.no_padding()
    ids = [e.ids for e in tok.encode_batch([r.sentence for r in read_cola_tsv(DEV_FILE)])]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one thread, no spinning: the gate compares predictions, not speed
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    results = {}
    for index, model in enumerate(models):
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        results[f"m{index}"] = np.concatenate([session.run(["logits"], pad_batch([row], pad_id))[0] for row in ids])
    from numpy._core._multiarray_umath import __cpu_features__ as features  # read from CPUID, as MLAS does

    seen = [name for name in ("AVX2", "AVX512F", "AVX512_CLX", "AVX512_SPR") if features.get(name)]
    results["cpu_features"] = np.array(seen)
    np.savez(out, **results)  # type: ignore[arg-type]  # numpy types the keyword catch-all as allow_pickle


def run_path(path: str, models: list[Path], bundle: Path, out: Path) -> tuple[list[np.ndarray], list[str]]:
    """Logits of `models` computed under one code path (a fresh interpreter, emulated where the path says), and
    the CPU features that interpreter saw through CPUID."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    tokenizer = manifest["tokenizer"]
    prefix = PATHS[path]
    if prefix and shutil.which(prefix[0]) is None:
        raise SystemExit(f"path {path!r} needs {prefix[0]} (Debian: apt-get install qemu-user-static)")
    command = [
        *prefix,
        sys.executable,
        "-m",
        "bench.int8_paths",
        "--worker",
        str(out),
        "--tokenizer",
        str(bundle / "tokenizer.json"),
        "--pad-id",
        str(tokenizer["pad_id"]),
        "--max-length",
        str(tokenizer["max_length"]),
        *[str(m) for m in models],
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, check=False, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "TCG doesn't support" not in line]
        raise RuntimeError(f"{path} path failed ({done.returncode}):\n" + "\n".join(errors[-30:]))
    with np.load(out) as stored:
        return [np.asarray(stored[f"m{i}"]) for i in range(len(models))], [str(f) for f in stored["cpu_features"]]


def compare(fp32: np.ndarray, int8: np.ndarray, labels: list[int]) -> dict[str, float]:
    """Agreement with fp32 and both MCCs (export.parity's report, without torch)."""
    from export.evaluate import binary_report

    fp32_mcc = binary_report(labels, fp32.argmax(-1).tolist())["mcc"]
    int8_mcc = binary_report(labels, int8.argmax(-1).tolist())["mcc"]
    return {
        "agreement": round(float(np.mean(fp32.argmax(-1) == int8.argmax(-1))), 4),
        "fp32_mcc": round(fp32_mcc, 4),
        "int8_mcc": round(int8_mcc, 4),
        "mcc_drop": round(fp32_mcc - int8_mcc, 4),
        "max_abs_logit_diff": round(float(np.max(np.abs(fp32 - int8))), 4),
    }


def measure(
    bundles: dict[str, Path], settings: list[str], paths: list[str], work: Path
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """One row per bundle, setting and path; and the CPU features each path's interpreter saw."""
    labels = [r.label for r in read_cola_tsv(DEV_FILE)]
    rows, seen = [], {}
    for name, bundle in bundles.items():
        variants = []
        for setting in settings:
            target = work / f"{name}-{setting.replace(' ', '_')}.onnx"
            quantize_variant(bundle / "model.onnx", target, SETTINGS[setting])
            variants.append(target)
        for path in paths:
            print(f"{name}: {path} path, fp32 + {len(variants)} int8 settings on the dev set", flush=True)
            logits, seen[path] = run_path(path, [bundle / "model.onnx", *variants], bundle, work / f"{name}-{path}.npz")
            fp32, *int8s = logits
            for setting, int8 in zip(settings, int8s, strict=True):
                rows.append({"bundle": name, "path": path, "setting": setting, **compare(fp32, int8, labels)})
                print(f"  {setting}: {rows[-1]}", flush=True)
    return rows, seen


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Results of several runs in one file: new rows replace old ones of the same bundle, path and setting."""

    def key(row: dict[str, Any]) -> tuple[str, str, str]:
        return row["bundle"], row["path"], row["setting"]

    replaced = {key(r) for r in new["rows"]}
    return {
        "commands": [*old.get("commands", []), *new["commands"]],
        "machine": new["machine"],
        "bundles": {**old.get("bundles", {}), **new["bundles"]},
        "settings": {**old.get("settings", {}), **new["settings"]},
        "cpu_features_seen": {**old.get("cpu_features_seen", {}), **new["cpu_features_seen"]},
        "rows": [r for r in old["rows"] if key(r) not in replaced] + new["rows"],
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# int8 vs fp32 per CPU code path (dev set, one sentence per call as served)",
        "",
        "| bundle | setting | path | agreement | fp32 MCC | int8 MCC | MCC drop | max abs logit diff |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['bundle']} | {r['setting']} | {r['path']} | {r['agreement']:.4f} | {r['fp32_mcc']:.4f} | "
            f"{r['int8_mcc']:.4f} | {r['mcc_drop']:+.4f} | {r['max_abs_logit_diff']:.3f} |"
        )
    lines += ["", "Worst path per bundle and setting (the figure a setting is chosen by):", ""]
    worst: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results["rows"]:
        key = (r["bundle"], r["setting"])
        if key not in worst or r["agreement"] < worst[key]["agreement"]:
            worst[key] = r
    for (bundle, setting), r in worst.items():
        lines.append(
            f"- {bundle}, {setting}: agreement {r['agreement']:.4f} ({r['path']}), MCC drop {r['mcc_drop']:+.4f}"
        )
    m = results["machine"]
    lines += [
        "",
        f"Machine: {m['processor']} ({m['fingerprint']}), {m['cpu_count']} CPUs, onnxruntime {m['onnxruntime']}; "
        f"the avx2 path is the same machine under `{' '.join(PATHS['avx2'])}`. CPU features each path saw "
        f"(CPUID, as onnxruntime's MLAS reads it): {results['cpu_features_seen']}.",
        "",
        "Rerun: " + "; ".join(f"`{c}`" for c in results["commands"]) + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", action="append", default=[], help="NAME=DIR of a bundle with model.onnx")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS")
    parser.add_argument("--paths", default="native,avx2", help="comma-separated: native, avx2")
    parser.add_argument("--out", type=Path, default=RESULTS / "int8_paths")
    parser.add_argument("--append", action="store_true", help="merge into the results at --out (same rows replaced)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pad-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--max-length", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("models", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        logits_worker(args.models, args.tokenizer, args.pad_id, args.max_length, args.worker)
        return 0
    bundles = {spec.partition("=")[0]: Path(spec.partition("=")[2]) for spec in args.bundle}
    if not bundles:
        parser.error("give at least one --bundle NAME=DIR")
    for name, bundle in bundles.items():
        if not (bundle / "model.onnx").is_file():
            parser.error(f"bundle {name}: {bundle}/model.onnx not found (export it first: make export)")
    settings, paths = args.settings.split(","), args.paths.split(",")
    for value, known, what in ((settings, SETTINGS, "setting"), (paths, PATHS, "path")):
        unknown = [v for v in value if v not in known]
        if unknown:
            parser.error(f"unknown {what} {unknown}: choose from {', '.join(known)}")
    with tempfile.TemporaryDirectory(prefix="int8-paths-") as work:
        rows, seen = measure(bundles, settings, paths, Path(work))
    command = "python -m bench.int8_paths " + " ".join(argv if argv is not None else sys.argv[1:])
    results = {
        "commands": [command],
        "machine": machine_info(("onnxruntime", "numpy")),
        "bundles": {name: str(path) for name, path in bundles.items()},
        "settings": {name: SETTINGS[name] for name in settings},
        "cpu_features_seen": seen,
        "rows": rows,
    }
    previous = args.out.with_suffix(".json")
    if args.append and previous.is_file():
        results = merge(json.loads(previous.read_text()), results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
