"""Serving cost: this project's torch-free predictor vs the transformers pipeline vs the tutorial's ONNX path.

`python -m bench.serving [--bundle NAME=DIR ...] [--runs N] [--quick]` → bench/results/serving.{json,md}.
Default bundles: every artifacts/bundles/*/ with a manifest.json. Each variant runs in a fresh process
(bench._serving_worker) with the same thread count, on the same machine, in one go:

  predictor fp32 / int8   chalice_app.chalicelib.api.predictor on model.onnx / model.int8.onnx (no torch)
  pipeline (torch)        transformers pipeline("text-classification") on the bundle's training run
  tutorial (torch, 128)   import torch + AutoTokenizer padding="max_length" 128 + ONNX with a fixed sequence

Cold start: from the worker's first statement (before any import) to the first prediction done, median of
fresh processes with the files in the page cache. Latency: single sentences, 10 warm-ups first. Throughput: the
whole dev set in batches of 32, which also gives the MCC. Peak RSS: getrusage maxrss at the worker's end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.machine import machine_info
from chalice_app.chalicelib.contract.manifest import load_manifest, sha256_file
from model_training.data.cola import read_cola_tsv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEV_FILE = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"
TUTORIAL_CACHE = ROOT / "artifacts" / "bench" / "tutorial"


def worker(argv: list[str], dev_json: str, threads: int) -> dict[str, Any]:
    """Run bench._serving_worker in a fresh interpreter; return its BENCH_RESULT."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "BENCH_SPAWN_T": repr(time.time()),
    }
    cmd = [sys.executable, "-m", "bench._serving_worker", *argv, "--threads", str(threads)]
    proc = subprocess.run(cmd, input=dev_json, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    return result


def megabytes(paths: list[Path]) -> float:
    return round(sum(p.stat().st_size for p in paths) / 1e6, 1)


def tutorial_onnx(name: str, run_model: Path) -> Path:
    """The tutorial's fixed-128 ONNX for this run, exported once (cached by the weights' sha256), untimed."""
    weights = run_model / "model.safetensors"
    out = TUTORIAL_CACHE / f"{name}-{sha256_file(weights)[:12]}" / "model.onnx"
    if not out.is_file():
        print(f"exporting the tutorial's fixed-128 ONNX for {name} → {out}", flush=True)
        worker(["export-tutorial", "--run-model", str(run_model), "--onnx", str(out)], "", 1)
    return out


def variants(bundles: dict[str, Path], tutorial_for: set[str], notes: list[str]) -> list[dict[str, Any]]:
    """Every (variant, model) to measure: its worker arguments and the files it loads."""
    planned = []
    for name, bundle in bundles.items():
        manifest = load_manifest(bundle)
        int8 = manifest["parity"]["int8_vs_fp32"]
        for precision, model_file, manifest_mcc in (
            ("fp32", "model.onnx", manifest["parity"]["fp32_vs_torch"]["candidate"]["mcc"]),
            ("int8", "model.int8.onnx", int8["candidate"]["mcc"] if int8 else None),
        ):
            if model_file not in manifest["files"]:
                notes.append(f"{name}: no {model_file} in the bundle (its int8 model did not pass the gates)")
                continue
            planned.append(
                {
                    "variant": f"predictor {precision}",
                    "model": name,
                    "argv": ["predictor", "--bundle", str(bundle), "--model-file", model_file],
                    "files": [bundle / model_file, bundle / "tokenizer.json"],
                    "manifest_mcc": manifest_mcc,
                }
            )
        run_model = ROOT / "artifacts" / "runs" / manifest["run_name"] / "model"
        if not (run_model / "config.json").is_file():
            notes.append(f"{name}: no training run at {run_model.relative_to(ROOT)}; pipeline and tutorial skipped")
            continue
        torch_mcc = manifest["parity"]["fp32_vs_torch"]["reference"]["mcc"]
        planned.append(
            {
                "variant": "pipeline (torch)",
                "model": name,
                "argv": ["pipeline", "--run-model", str(run_model)],
                "files": [run_model / "model.safetensors", run_model / "tokenizer.json"],
                "manifest_mcc": torch_mcc,
            }
        )
        if name in tutorial_for:
            onnx = tutorial_onnx(name, run_model)
            planned.append(
                {
                    "variant": "tutorial (torch, pad 128)",
                    "model": name,
                    "argv": ["tutorial", "--run-model", str(run_model), "--onnx", str(onnx)],
                    "files": [onnx, run_model / "tokenizer.json"],
                    "manifest_mcc": None,
                }
            )
    return planned


def measure_all(
    plans: list[dict[str, Any]], dev_json: str, runs: int, cold_repeats: int, threads: int, rounds: int
) -> list[dict[str, Any]]:
    """`rounds` full worker runs per variant (latency, throughput, MCC, RSS), interleaved round-robin with the
    order reversed every other round, so a slow minute of the machine hits every variant rather than one; then
    `cold_repeats` cold-start-only processes per variant. Each row is the round with the median p50."""
    fulls: list[list[dict[str, Any]]] = [[] for _ in plans]
    for round_index in range(rounds):
        order = list(range(len(plans)))
        for i in order if round_index % 2 == 0 else reversed(order):
            plan = plans[i]
            print(f"round {round_index + 1}/{rounds}: {plan['variant']} [{plan['model']}] ...", flush=True)
            fulls[i].append(worker([*plan["argv"], "--runs", str(runs)], dev_json, threads))
            print(f"  p50 {fulls[i][-1]['p50_ms']} ms", flush=True)
    return [summarize(plan, fulls[i], cold_repeats, threads) for i, plan in enumerate(plans)]


def summarize(plan: dict[str, Any], fulls: list[dict[str, Any]], cold_repeats: int, threads: int) -> dict[str, Any]:
    """One table row: the median-p50 round's figures, every round's p50, the median of the cold starts."""
    median_round = sorted(fulls, key=lambda full: full["p50_ms"])[(len(fulls) - 1) // 2]
    colds = [worker([*plan["argv"], "--cold-only"], "", threads)["cold_start_s"] for _ in range(cold_repeats)]
    row = {
        "variant": plan["variant"],
        "model": plan["model"],
        **median_round,
        "p50_ms_rounds": [full["p50_ms"] for full in fulls],
        "cold_start_first_process_s": fulls[0]["cold_start_s"],
        "cold_start_samples_s": colds,
        "cold_start_s": round(statistics.median(colds), 4) if colds else fulls[0]["cold_start_s"],
        "artifact_mb": megabytes(plan["files"]),
        "artifact_files": [str(p.relative_to(ROOT)) for p in plan["files"]],
        "manifest_mcc": plan["manifest_mcc"],
    }
    print(
        f"{plan['variant']} [{plan['model']}]: "
        f"{json.dumps({k: row[k] for k in ('cold_start_s', 'p50_ms', 'p50_ms_rounds', 'p99_ms', 'dev_mcc')})}",
        flush=True,
    )
    return row


def comparison(rows: list[dict[str, Any]], model: str) -> dict[str, Any]:
    """Ratios against the int8 predictor for one model, and the targets' PASS/FAIL."""
    by_variant = {r["variant"]: r for r in rows if r["model"] == model}
    int8 = by_variant.get("predictor int8")
    if int8 is None:
        return {}
    ratios: dict[str, Any] = {}
    for key, variant in (("pipeline", "pipeline (torch)"), ("tutorial", "tutorial (torch, pad 128)")):
        if variant in by_variant:
            other = by_variant[variant]
            ratios[f"{key}_p50_over_int8"] = round(other["p50_ms"] / int8["p50_ms"], 1)
            ratios[f"{key}_p50_over_int8_rounds"] = [
                round(theirs / ours, 1)
                for theirs, ours in zip(other["p50_ms_rounds"], int8["p50_ms_rounds"], strict=True)
            ]
            ratios[f"{key}_cold_over_int8"] = round(other["cold_start_s"] / int8["cold_start_s"], 1)
            ratios[f"int8_batch32_over_{key}"] = round(int8["batch32_sent_per_s"] / other["batch32_sent_per_s"], 2)
    targets = {"int8 p50 <= 2 ms": int8["p50_ms"] <= 2.0, "int8 cold start <= 0.3 s": int8["cold_start_s"] <= 0.3}
    if "pipeline_p50_over_int8" in ratios:
        targets["p50 >= 5x lower than the pipeline"] = ratios["pipeline_p50_over_int8"] >= 5
        targets["p50 >= 7x lower than the pipeline"] = ratios["pipeline_p50_over_int8"] >= 7
        targets["batch-32 throughput >= 2.5x the pipeline's"] = ratios["int8_batch32_over_pipeline"] >= 2.5
        targets["cold start >= 10x faster than the pipeline"] = ratios["pipeline_cold_over_int8"] >= 10
    return {"model": model, "ratios": ratios, "targets": {k: "PASS" if v else "FAIL" for k, v in targets.items()}}


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"# Serving: torch-free predictor vs transformers pipeline vs the tutorial's path ({results['mode']})",
        "",
        "| variant | model | cold start s | p50 ms | p99 ms | batch-32 sent/s | peak RSS MiB | artifact MB | dev MCC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['variant']} | {r['model']} | {r['cold_start_s']:.3f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['batch32_sent_per_s']} | {r['peak_rss_mib']} | {r['artifact_mb']} | {r['dev_mcc']:.4f} |"
        )
    lines.append("")
    for c in results["comparisons"]:
        ratios = c["ratios"]
        parts = []
        for key, label in (("pipeline", "torch pipeline"), ("tutorial", "tutorial path")):
            if f"{key}_p50_over_int8" in ratios:
                per_round = ", ".join(f"{r}x" for r in ratios[f"{key}_p50_over_int8_rounds"])
                parts.append(
                    f"{label} p50 / int8 p50 = **{ratios[f'{key}_p50_over_int8']}x** (rounds: {per_round}), "
                    f"int8 batch-32 throughput / {label}'s = **{ratios[f'int8_batch32_over_{key}']}x**, "
                    f"cold start / int8 cold start = **{ratios[f'{key}_cold_over_int8']}x**"
                )
        lines.append(f"Ratios ({c['model']}): " + ("; ".join(parts) or "no torch variant measured") + ".")
        lines.append("")
        lines.append("Targets: " + ", ".join(f"{k}: **{v}**" for k, v in c["targets"].items()) + ".")
        lines.append("")
    lines += [
        "Cold start breakdown (s): import | load | first prediction | of the load, the manifest's sha256 check",
        "",
        "| variant | model | import | load | first prediction | sha256 check |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        verify = r.get("verify_bundle_s")
        lines.append(
            f"| {r['variant']} | {r['model']} | {r['import_s']:.3f} | {r['load_s']:.3f} | "
            f"{r['first_prediction_s']:.3f} | {'-' if verify is None else f'{verify:.3f}'} |"
        )
    lines.append("")
    lines += [f"Note: {note}" for note in results["notes"]]
    lines += [
        "",
        f"Cold start: worker's first statement → first prediction (imports + load + one sentence), median of "
        f"{results['cold_repeats']} fresh process(es), page cache warm; the predictor's load includes the "
        "manifest's sha256 check of every bundle file. Latency over "
        f"{results['runs']} dev sentences after 10 warm-ups, in {results['rounds']} round(s) of every variant "
        "(interleaved, order reversed every other round; the row is the round with the median p50); throughput "
        f"and MCC over all {results['dev_n']} dev "
        f"sentences. Threads: {m['threads']} (ORT intra-op, torch.set_num_threads, OMP_NUM_THREADS).",
        "",
        f"Machine: {m['processor']} ({m['fingerprint']}), {m['cpu_count']} CPUs "
        f"(load average {m['load_average_at_start']} at start), "
        f"Python {m['python']}, onnxruntime {m['onnxruntime']}, torch {m['torch']}, transformers "
        f"{m['transformers']}. Rerun: `make bench`.",
        "",
    ]
    return "\n".join(lines)


README_START = "<!-- bench.serving: start (make bench writes this block) -->"
README_END = "<!-- bench.serving: end -->"


def readme_block(results: dict[str, Any]) -> str:
    """The README's serving summary: per MiniLM-sized bundle the int8 predictor against the torch pipeline."""
    m = results["machine"]
    lines = [
        "| bundle | int8 p50 ms | pipeline p50 ms | ratio | int8 batch-32 sent/s | pipeline | ratio | int8 cold s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in results["comparisons"]:
        rows = {r["variant"]: r for r in results["rows"] if r["model"] == c["model"]}
        int8, pipeline = rows["predictor int8"], rows.get("pipeline (torch)")
        if pipeline is None:
            continue
        lines.append(
            f"| {c['model']} | {int8['p50_ms']:.2f} | {pipeline['p50_ms']:.2f} | "
            f"**{c['ratios']['pipeline_p50_over_int8']}x** | {int8['batch32_sent_per_s']} | "
            f"{pipeline['batch32_sent_per_s']} | **{c['ratios']['int8_batch32_over_pipeline']}x** | "
            f"{int8['cold_start_s']:.3f} |"
        )
    lines += [
        "",
        f"Measured by `make bench` ({results['mode']} run, {results['rounds']} interleaved rounds, "
        f"{m['threads']} threads) on {m['processor']} ({m['fingerprint']}), {m['cpu_count']} CPUs, load average "
        f"{m['load_average_at_start'][0]} at start; every variant and the cold-start breakdown: "
        "[bench/results/serving.md](bench/results/serving.md).",
    ]
    return "\n".join(lines)


def replace_readme_block(readme: str, block: str) -> str:
    """`readme` with the text between the serving markers replaced by `block`; ValueError without the markers."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no serving block: add the lines {README_START!r} and {README_END!r}")
    return readme[: start + len(README_START)] + "\n" + block + "\n" + readme[end:]


def parse_bundles(specs: list[str] | None) -> dict[str, Path]:
    if specs:
        pairs = [spec.split("=", 1) for spec in specs]
        return {name: Path(directory).resolve() for name, directory in pairs}
    found = sorted(p.parent for p in (ROOT / "artifacts" / "bundles").glob("*/manifest.json"))
    return {p.name: p for p in found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", action="append", metavar="NAME=DIR", help="bundle(s) to measure (repeatable)")
    parser.add_argument("--runs", type=int, help="single-sentence latency samples (default 300; --quick 50)")
    parser.add_argument("--cold-repeats", type=int, help="extra cold-start-only processes (default 3; --quick 1)")
    parser.add_argument("--rounds", type=int, help="interleaved latency rounds per variant (default 3; --quick 1)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tutorial-all", action="store_true", help="the tutorial path for every bundle, not one")
    parser.add_argument("--quick", action="store_true", help="fewer samples, for a smoke check")
    args = parser.parse_args()
    runs = args.runs or (50 if args.quick else 300)
    cold_repeats = args.cold_repeats if args.cold_repeats is not None else (1 if args.quick else 3)
    rounds = args.rounds or (1 if args.quick else 3)
    bundles = parse_bundles(args.bundle)
    if not bundles:
        sys.exit("no bundles: run `make export` or pass --bundle NAME=DIR")
    # The targets are for MiniLM-sized models: every bundle named *minilm* (the first bundle when none is).
    minilm_sized = [n for n in bundles if "minilm" in n.lower()] or [next(iter(bundles))]
    minilm = minilm_sized[0]
    rows = read_cola_tsv(DEV_FILE)
    dev_json = json.dumps({"sentences": [r.sentence for r in rows], "labels": [r.label for r in rows]})

    machine = machine_info(("onnxruntime", "torch", "transformers", "tokenizers", "numpy"), threads=args.threads)
    notes: list[str] = []
    plans = variants(bundles, set(bundles) if args.tutorial_all else {minilm}, notes)
    measured = measure_all(plans, dev_json, runs, cold_repeats, args.threads, rounds)
    for r in measured:
        if r["variant"].startswith("predictor") and r["torch_imported"]:
            notes.append(f"{r['variant']} [{r['model']}] imported torch: the runtime is meant to be torch-free")
        if r["manifest_mcc"] is not None and abs(r["manifest_mcc"] - r["dev_mcc"]) > 1e-3:
            notes.append(
                f"{r['variant']} [{r['model']}]: dev MCC {r['dev_mcc']:.4f} differs from the manifest's "
                f"{r['manifest_mcc']:.4f}"
            )
    load, cpus = machine["load_average_at_start"][0], machine["cpu_count"] or 1
    if load > 0.5 * cpus:
        notes.append(
            f"the machine was busy (1-min load average {load} on {cpus} CPUs at start): figures are noisy, torch's "
            "OpenMP threads most of all; rerun on an idle machine"
        )
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "runs": runs,
        "cold_repeats": cold_repeats,
        "rounds": rounds,
        "dev_n": len(rows),
        "bundles": {n: str(d) for n, d in bundles.items()},
        "rows": measured,
        "comparisons": [c for c in (comparison(measured, name) for name in minilm_sized) if c],
        "notes": notes,
        "machine": machine,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serving.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (RESULTS / "serving.md").write_text(table)
    print(table)
    if not args.quick and not args.bundle:  # the README reports the default bundles' full runs only
        readme = ROOT / "README.md"
        readme.write_text(replace_readme_block(readme.read_text(), readme_block(results)))
        print(f"updated the serving block of {readme}")


if __name__ == "__main__":
    main()
