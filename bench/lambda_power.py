"""Lambda power tuning here: the Lambda image at each memory size under Lambda's CPU share, timed and priced.

`python -m bench.lambda_power [--config conf/bench/lambda.yaml] [--bundle DIR | --image TAG] [--sizes 512,1024]
[--rounds N] [--cold-starts N] [--single-requests N] [--batch-requests N] [--saturated-requests N] [--pause-ms MS]
[--no-threads] [--before-image TAG] [--out bench/results/lambda_power]` → OUT.json, OUT.md, OUT.png
(`make bench-lambda`).

Lambda gives a function CPU time in proportion to its memory (one vCPU's worth at 1,769 MB). Each size runs the
image built by `make image` (bench/lambda_container.py) with `docker run --memory=<MB>m --cpus=<MB/1769>`, fed
API Gateway events through the Lambda Runtime API (devtools/lambda_runtime_api.py) one at a time, as Lambda feeds
an instance. Per size: cold starts (container start → init done, → first answer), then in a warm container the
latency of single-sentence and batch invocations, each after a pause of one CFS period (an instance idling between
requests), and a back-to-back run (a busy instance). Durations are billed as Lambda bills them (rounded up to 1 ms)
and priced from conf/bench/lambda_prices.yaml (bench/lambda_cost.py); the recommended size per stage follows the
rule in the config. At one size the image's thread sizing (auto from the quota) runs against ORT_THREADS forced
to the old fixed value. Speed is reported, never asserted; any failed invocation makes the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import lambda_container
from bench.cpu_priority import priority_cgroup
from bench.lambda_config import CONFIG, BenchConfig, ConfigError, Variant, cpu_share, load_config, plan, round_order
from bench.lambda_cost import ARCHITECTURES, Candidate, Prices, billed_ms, cost_per_million, load_prices, recommend
from bench.lambda_report import write_outputs
from bench.load_client import Body, LoadResult, batch_bodies, percentile, run_load, single_bodies
from bench.machine import machine_info
from chalice_app.chalicelib.contract.manifest import load_manifest
from model_training.data.cola import read_cola_tsv

ROOT = Path(__file__).resolve().parents[1]
DEV_FILE = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"
SHAPES = ("single", "batch", "saturated_single")

PROBE = """
import json, os
from pathlib import Path
period = None
for name in ("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "/sys/fs/cgroup/cpu.max"):
    try:
        period = int(Path(name).read_text().split()[-1])
        break
    except (OSError, ValueError, IndexError):
        pass
facts = {"cfs_period_us": period, "ort_threads_env": os.environ.get("ORT_THREADS")}
try:
    from chalicelib.api.cpu import cpu_budget
except ImportError:  # an image from before chalicelib/api/cpu.py
    pass
else:
    budget = cpu_budget()
    facts.update(quota=budget.quota, affinity=budget.affinity, auto_threads=budget.threads(), limited=budget.limited)
print(json.dumps(facts))
"""
"""Run inside a warm container: what chalicelib/api/cpu.py sees there (the quota Docker set, the processors)."""


def latency_stats(result: LoadResult, granularity_ms: int) -> dict[str, Any]:
    """p50/p95/p99/mean/max in ms, the billed durations' mean, the durations kept for pricing, and errors."""
    lat_ms = sorted(s * 1000 for s in result.latencies_s)
    figures: dict[str, Any] = {
        "requests": result.requests,
        "ok": len(lat_ms),
        "errors": result.errors,
        "error_samples": result.error_samples,
    }
    if lat_ms:
        figures.update(
            p50_ms=round(percentile(lat_ms, 50), 2),
            p95_ms=round(percentile(lat_ms, 95), 2),
            p99_ms=round(percentile(lat_ms, 99), 2),
            mean_ms=round(statistics.fmean(lat_ms), 2),
            max_ms=round(lat_ms[-1], 2),
            billed_mean_ms=round(statistics.fmean(billed_ms(d, granularity_ms) for d in lat_ms), 2),
            durations_ms=[round(d, 3) for d in lat_ms],
        )
    return figures


def costs(
    single: Mapping[str, Any], batch: Mapping[str, Any], memory_mb: int, batch_size: int, prices: Prices
) -> dict[str, Any]:
    """USD per million single predictions and per million sentences in batches, per architecture, with and
    without API Gateway's request price (the arm64 figures assume the x86_64 durations measured here)."""
    out: dict[str, Any] = {}
    for name, figures, texts in (("single", single, 1), ("batch", batch, batch_size)):
        durations = figures.get("durations_ms") or []
        if not durations:
            continue
        out[name] = {
            f"{arch}{suffix}": round(cost_per_million(durations, memory_mb, arch, prices, texts, gateway), 4)
            for arch in ARCHITECTURES
            for suffix, gateway in (("", False), ("_with_api_gateway", True))
        }
    return out


@dataclass
class Raw:
    """What one round measured of one variant, before pooling."""

    colds: list[dict[str, float | None]] = field(default_factory=list)
    results: dict[str, LoadResult] = field(default_factory=dict)
    inside: dict[str, Any] = field(default_factory=dict)
    memory_usage: str = ""
    load_average: list[float] = field(default_factory=list)


def measure_once(
    env: dict[str, str],
    image: str,
    variant: Variant,
    config: BenchConfig,
    bodies: Mapping[str, Sequence[Body]],
    cgroup_parent: str | None = None,
) -> Raw:
    """One round of one variant: cold starts in fresh containers, then the warm runs in the last one."""
    share = cpu_share(variant.memory_mb, config.mb_per_vcpu, len(os.sched_getaffinity(0)))
    single, batch = bodies["single"], bodies["batch"]
    pause_s = config.pause_ms / 1000
    raw = Raw(load_average=[round(x, 2) for x in os.getloadavg()])
    for index in range(config.cold_starts):
        with lambda_container.started_container(
            env, variant.image or image, single[0].payload, memory=f"{variant.memory_mb}m", cpus=share.cpus_given,
            environment=variant.environment, cgroup_parent=cgroup_parent,
        ) as container:  # fmt: skip
            raw.colds.append(
                {
                    "run_to_init_s": _round(container.run_to_init_s),
                    "process_to_init_s": _round(container.process_to_init_s),
                    "first_answer_s": _round(container.cold_start_s),
                }
            )
            if index < config.cold_starts - 1:
                continue
            if config.warmup:
                run_load(container.invoke, single, config.warmup, 1, pause_s=pause_s)
                run_load(container.invoke, batch, max(1, config.warmup // 4), 1, pause_s=pause_s)
            raw.results["single"] = run_load(container.invoke, single, config.single_requests, 1, pause_s=pause_s)
            raw.results["batch"] = run_load(container.invoke, batch, config.batch_requests, 1, pause_s=pause_s)
            if config.saturated_requests:
                raw.results["saturated_single"] = run_load(container.invoke, single, config.saturated_requests, 1)
            raw.inside = json.loads(lambda_container.exec_python(env, container.container_id, PROBE))
            raw.memory_usage = container.memory_usage()
    return raw


def pooled(results: Sequence[LoadResult]) -> LoadResult:
    """One result holding every round's requests, latencies and errors."""
    first = results[0]
    merged = LoadResult(sum(r.requests for r in results), first.concurrency, first.texts_per_request)
    for result in results:
        merged.latencies_s += result.latencies_s
        merged.errors += result.errors
        merged.error_samples += result.error_samples
        merged.wall_s += result.wall_s
    return merged


def summarize(
    variant: Variant, raws: Sequence[Raw], config: BenchConfig, prices: Prices, host_cpus: int
) -> dict[str, Any]:
    """The report row of one variant from all its rounds: CPU share, cold starts, pooled latencies, costs."""
    share = cpu_share(variant.memory_mb, config.mb_per_vcpu, host_cpus)
    row: dict[str, Any] = {
        "memory_mb": variant.memory_mb,
        "environment": dict(variant.environment),
        "label": variant.label,
        "image": variant.image,
        **asdict(share),
        "beyond_one_vcpu": share.beyond_one_vcpu,
        "capped": share.capped,
        "rounds": len(raws),
        "load_average_per_round": [raw.load_average for raw in raws],
        "inside": raws[-1].inside,
        "memory_usage": [raw.memory_usage for raw in raws],
    }
    colds = [cold for raw in raws for cold in raw.colds]
    row["cold"] = {
        "samples": colds,
        **{
            f"{key}_median": _round(statistics.median(values))
            for key in ("run_to_init_s", "process_to_init_s", "first_answer_s")
            if (values := [v for c in colds if (v := c[key]) is not None])
        },
    }
    for shape in SHAPES:
        results = [raw.results[shape] for raw in raws if shape in raw.results]
        if results:
            row[shape] = latency_stats(pooled(results), prices.granularity_ms)
    row["cost_per_million"] = costs(row["single"], row["batch"], variant.memory_mb, config.batch_size, prices)
    row["errors"] = sum(row[shape]["errors"] for shape in SHAPES if shape in row)
    return row


def recommendations(rows: Sequence[Mapping[str, Any]], config: BenchConfig) -> dict[str, dict[str, Any]]:
    """Per stage, the size the rule picks among the sweep's sizes that answered every invocation."""
    candidates = [
        Candidate(
            r["memory_mb"],
            r["single"]["p95_ms"],
            r["cost_per_million"]["single"]["x86_64_with_api_gateway"],
            r["batch"].get("p95_ms"),
        )
        for r in rows
        if r["errors"] == 0 and "p95_ms" in r["single"]
    ]
    out = {}
    for stage, rule in config.recommend.items():
        chosen = recommend(candidates, rule.p95_within, rule.batch_p95_within)
        out[stage] = {"memory_mb": chosen.memory_mb, **asdict(rule), "reason": chosen.reason}
    return out


def run_benchmark(env: dict[str, str], image: str, config: BenchConfig, sentences: Sequence[str]) -> dict[str, Any]:
    """Every variant of the plan, `config.rounds` times in alternating order, against `image`; the results without
    the machine and the command (main adds them)."""
    prices = load_prices(config.prices)
    host_cpus = len(os.sched_getaffinity(0))
    bodies = {"single": single_bodies(sentences), "batch": batch_bodies(sentences, config.batch_size)}
    variants = plan(config)
    raws: list[list[Raw]] = [[] for _ in variants]
    with priority_cgroup() if config.cpu_priority else nullcontext() as cgroup_parent:
        print(f"  containers under cgroup {cgroup_parent or '(the engine default: no CPU priority)'}", flush=True)
        for round_index in range(config.rounds):
            for index in round_order(list(range(len(variants))), round_index):
                variant = variants[index]
                print(f"  round {round_index + 1}/{config.rounds}: {variant.memory_mb} MB, {variant.label}", flush=True)
                raws[index].append(measure_once(env, image, variant, config, bodies, cgroup_parent))
    rows = [summarize(variant, runs, config, prices, host_cpus) for variant, runs in zip(variants, raws, strict=True)]
    for variant, row in zip(variants, rows, strict=True):
        print(f"  {variant.memory_mb} MB, {variant.label}: {brief(row)}", flush=True)
    sweep = [row for variant, row in zip(variants, rows, strict=True) if variant.role == "sweep"]
    threads = [row for row in rows if config.threads_memory_mb and row["memory_mb"] == config.threads_memory_mb]
    return {
        "config": {**asdict(config), "prices": str(config.prices.relative_to(ROOT))},
        "prices": asdict(prices),
        "host_cpus": host_cpus,
        "cpu_priority": cgroup_parent is not None,
        "image": lambda_container.describe(env, image) | {"memory": "per size"},
        "sizes": sweep,
        "threads": threads,
        "recommendation": recommendations(sweep, config),
    }


def brief(row: Mapping[str, Any]) -> str:
    single, batch = row.get("single", {}), row.get("batch", {})
    return (
        f"init {row['cold'].get('process_to_init_s_median')} s, first answer {row['cold'].get('first_answer_s_median')}"
        f" s; single p50 {single.get('p50_ms')} / p95 {single.get('p95_ms')} ms; batch p50 {batch.get('p50_ms')} / "
        f"p95 {batch.get('p95_ms')} ms; threads {row.get('inside', {}).get('auto_threads')} auto; "
        f"{row['errors']} errors"
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated memory sizes in MB, got {text!r}") from None
    if not sizes:
        raise argparse.ArgumentTypeError("no memory size given")
    return sizes


def apply_overrides(config: BenchConfig, args: argparse.Namespace) -> BenchConfig:
    """The config with the options given on the command line."""
    changes: dict[str, Any] = {
        name: getattr(args, name)
        for name in (
            "rounds",
            "cold_starts",
            "warmup",
            "single_requests",
            "batch_requests",
            "saturated_requests",
            "pause_ms",
        )
        if getattr(args, name) is not None
    }
    if args.sizes is not None:
        changes["memory_sizes_mb"] = args.sizes
    if args.no_threads:
        changes["threads_memory_mb"] = None
    if args.before_image:
        changes["before_image"] = args.before_image
    updated = replace(config, **changes)
    updated.validate()
    return updated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG, help="benchmark configuration (YAML)")
    parser.add_argument("--bundle", type=Path, default=ROOT / "artifacts" / "bundles" / "minilm", help="bundle")
    parser.add_argument("--image", help="an image already built by `make image` (skips the build)")
    parser.add_argument("--sizes", type=parse_sizes, help="memory sizes in MB, e.g. 512,1024 (default: config)")
    for name in ("rounds", "cold-starts", "warmup", "single-requests", "batch-requests", "saturated-requests"):
        parser.add_argument(f"--{name}", type=int, help=f"{name.replace('-', ' ')} per size (default: config)")
    parser.add_argument("--pause-ms", type=float, help="pause before each timed invocation (default: config)")
    parser.add_argument("--no-threads", action="store_true", help="skip the ORT thread-sizing comparison")
    parser.add_argument("--before-image", help="an earlier commit's image, run beside the thread comparison")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lambda_power", help="OUT.json/md/png")
    parser.add_argument("--note", action="append", default=[], help="a note for the report (repeatable)")
    args = parser.parse_args(argv)
    try:
        config = apply_overrides(load_config(args.config), args)
    except ConfigError as err:
        parser.error(str(err))
    bundle = args.bundle.resolve()
    if not (bundle / "manifest.json").is_file():
        parser.error(f"no bundle at {bundle} (no manifest.json): run `make export` or pass --bundle DIR")
    sentences = [row.sentence for row in read_cola_tsv(DEV_FILE)]
    manifest = load_manifest(bundle)
    head: dict[str, Any] = {
        "command": "python -m bench.lambda_power " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "bundle": str(bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle),
        "model_version": manifest["model_version"],
        "model_file": manifest["serving"]["model_file"],
        "machine": machine_info(("onnxruntime", "tokenizers", "numpy")),
        "notes": list(args.note),
    }
    print(f"Lambda power tuning of {bundle} ({head['model_version']})", flush=True)
    with lambda_container.docker_engine() as env:
        image = args.image or lambda_container.build_image(env, bundle)
        results = head | run_benchmark(env, image, config, sentences)
    write_outputs(results, args.out)
    print(f"wrote {args.out}.json, .md and .png", flush=True)
    for stage, choice in results["recommendation"].items():
        print(f"  {stage}: {choice['memory_mb']} MB ({choice['reason']})", flush=True)
    return exit_status(results)


def exit_status(results: Mapping[str, Any]) -> int:
    """1 when any invocation failed (said on stderr), else 0."""
    errors = sum(r["errors"] for r in [*results["sizes"], *results["threads"]])
    if errors:
        print(f"FAILED: {errors} invocation(s) failed (see error_samples in the JSON)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
