"""Load test of the serving API: a real `chalice local` over HTTP, and the Lambda container image event by event.

`python -m bench.load [--bundle DIR] [--requests 2000] [--batch-requests 500] [--concurrency 1,4,16]
[--new-connections] [--container-requests 500] [--cold-starts 3] [--no-container] [--out bench/results/load]`
→ OUT.json + OUT.md (`make bench-load`).

HTTP: `chalice local` (what `make serve` runs) on the bundle, started on a free loopback port and stopped by its
PID; for each body and each concurrency C, N POST /predict requests from C threads (bench/load_client.py: a
kept-alive connection per thread unless --new-connections), after a warm-up: `--requests` single-sentence bodies,
`--batch-requests` batches of 32. Bodies cycle through the CoLA dev sentences.
Container: bench/lambda_container.py (cold starts, image size, per-invocation latency at concurrency 1).
Any error (a non-200 answer, a wrong number of predictions, a failed connection) fails the run (exit 1) after the
results are written; speed itself is reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import lambda_container
from bench.load_client import Body, LoadResult, batch_bodies, run_http_load, run_load, single_bodies
from bench.machine import machine_info
from chalice_app.chalicelib.contract.manifest import load_manifest
from devtools.chalice_local import chalice_local
from model_training.data.cola import read_cola_tsv

ROOT = Path(__file__).resolve().parents[1]
DEV_FILE = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"
WARMUP_REQUESTS = 20
BATCH_SIZE = 32


def body_sets(sentences: Sequence[str]) -> dict[str, list[Body]]:
    """The two request shapes measured: one sentence, and a batch of 32."""
    return {"single": single_bodies(sentences), f"batch{BATCH_SIZE}": batch_bodies(sentences, BATCH_SIZE)}


def http_runs(
    bundle: Path,
    bodies: dict[str, list[Body]],
    requests: dict[str, int],
    concurrencies: Sequence[int],
    log_path: Path,
    new_connections: bool = False,
) -> list[dict[str, Any]]:
    """Every (body, concurrency) against one `chalice local` process; `requests` per body name."""
    rows = []
    connection = "new per request" if new_connections else "kept alive"
    with chalice_local(bundle, log_path) as server:
        base_url = server.base_url
        url = base_url + "/predict"
        for name, body_list in bodies.items():
            run_http_load(url, body_list, WARMUP_REQUESTS, 1, new_connections)
            for concurrency in concurrencies:
                result = run_http_load(url, body_list, requests[name], concurrency, new_connections)
                rows.append({"target": "chalice local", "body": name, "connection": connection, **result.summary()})
                print(f"  chalice local {name} C={concurrency}: {brief(result)}", flush=True)
    return rows


def container_runs(bundle: Path, bodies: dict[str, list[Body]], requests: int, cold_starts: int) -> dict[str, Any]:
    """Image size, `cold_starts` fresh containers' cold starts, then `requests` invocations per body in the last."""
    with lambda_container.docker_engine() as env:
        image = lambda_container.build_image(env, bundle)
        facts = lambda_container.describe(env, image)
        print(f"  image {image}: {facts['size_bytes'] / 1e6:.0f} MB", flush=True)
        first = bodies["single"][0].payload
        colds: list[float] = []
        for _ in range(cold_starts - 1):
            with lambda_container.started_container(env, image, first) as container:
                colds.append(container.cold_start_s)
        rows = []
        with lambda_container.started_container(env, image, first) as container:
            colds.append(container.cold_start_s)
            for name, body_list in bodies.items():
                run_load(container.invoke, body_list, WARMUP_REQUESTS, 1)
                result = run_load(container.invoke, body_list, requests, 1)
                rows.append({"target": "Lambda container", "body": name, **result.summary()})
                print(f"  container {name} C=1: {brief(result)}", flush=True)
            memory = container.memory_usage()
    print(f"  container cold starts: {', '.join(f'{c:.2f}' for c in colds)} s", flush=True)
    return {
        **facts,
        "cold_start_s": {"median": round(statistics.median(colds), 3), "samples": [round(c, 3) for c in colds]},
        "memory_usage_after_runs": memory,
        "rows": rows,
    }


def brief(result: LoadResult) -> str:
    s = result.summary()
    if not result.latencies_s:
        return f"{s['errors']} errors, no successful request: {s['error_samples'][:1]}"
    return (
        f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, {s['requests_per_s']} req/s, {s['texts_per_s']} texts/s, "
        f"{s['errors']} errors"
    )


def markdown(results: dict[str, Any]) -> str:
    """The human-readable report."""
    m = results["machine"]
    lines = [
        "# Load test: POST /predict under concurrent load (preliminary: see the notes)",
        "",
        f"Command: `{results['command']}`",
        "",
        "| target | body | requests | C | errors | p50 ms | p90 ms | p99 ms | max ms | requests/s | texts/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    container = results.get("container") or {}
    for r in [*results["http"], *container.get("rows", [])]:
        lines.append(
            f"| {r['target']} | {r['body']} | {r['requests']} | {r['concurrency']} | {r['errors']} | "
            f"{r.get('p50_ms', '-')} | {r.get('p90_ms', '-')} | {r.get('p99_ms', '-')} | {r.get('max_ms', '-')} | "
            f"{r.get('requests_per_s', '-')} | {r.get('texts_per_s', '-')} |"
        )
    lines.append("")
    if container:
        cold = container["cold_start_s"]
        lines += [
            f"**Lambda container image**: {container['image']} on base {container['base_image']}, "
            f"**{container['size_bytes'] / 1e6:.0f} MB** (`docker image inspect` Size); cold start (docker run → "
            f"first /predict answer) **{cold['median']} s** median of {len(cold['samples'])} fresh containers "
            f"({', '.join(map(str, cold['samples']))} s); memory after the runs: {container['memory_usage_after_runs']}"
            f" (limit {container['memory']}).",
            "",
        ]
    elif results.get("container_skipped"):
        lines += [f"Container: not measured ({results['container_skipped']}).", ""]
    lines += [
        "How: closed loop, C threads sending requests back to back, each over its own kept-alive connection "
        "with quick ACKs (chalice local's two-write answers otherwise wait ~40 ms on Nagle's algorithm; see "
        "bench/load_client.py), every answer checked (200, one prediction per text); latency per request "
        f"including queueing in the server; throughput = requests / wall time. {WARMUP_REQUESTS} warm-up "
        "requests per body first. Bodies cycle through the CoLA dev sentences "
        f"(single: one sentence; batch{BATCH_SIZE}: {BATCH_SIZE} consecutive sentences).",
        "",
        "`chalice local` is Chalice's development server (one thread per connection, the app in-process, JSON "
        "log lines to a file), not API Gateway: its figures show the app under concurrency on this machine, not "
        "Lambda's. The container is driven through the Lambda Runtime API at concurrency 1, as Lambda gives one "
        "request at a time to an instance (more traffic means more instances, each with its own cold start); "
        "its latency is the Runtime API round trip (event queued → handler result back). The base image is a "
        "Debian debootstrap one (no registry reachable), not public.ecr.aws/lambda/python:3.12, so its size is "
        "indicative.",
        "",
        f"Machine: {m['processor']} ({m['fingerprint']}), {m['cpu_count']} CPUs "
        f"(load average {m['load_average_at_start']} at start), "
        f"Python {m['python']}, onnxruntime {m['onnxruntime']}, chalice {m['chalice']}. The load generator runs on "
        "the same CPUs as the server.",
        "",
        *[f"Note: {note}" for note in results["notes"]],
        "",
    ]
    return "\n".join(lines)


def parse_concurrency(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def default_bundle() -> Path:
    return ROOT / "artifacts" / "bundles" / "minilm"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=default_bundle(), help="bundle to serve")
    parser.add_argument("--requests", type=int, default=2000, help="single-sentence requests per concurrency")
    parser.add_argument("--batch-requests", type=int, default=500, help="batch-32 requests per concurrency")
    parser.add_argument("--new-connections", action="store_true", help="a new connection per request")
    parser.add_argument("--concurrency", type=parse_concurrency, default=[1, 4, 16], help="e.g. 1,4,16")
    parser.add_argument("--container-requests", type=int, default=500, help="invocations per body in the container")
    parser.add_argument("--cold-starts", type=int, default=3, help="fresh containers whose cold start is timed")
    parser.add_argument("--no-container", action="store_true", help="skip the container image")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load", help="writes OUT.json/.md")
    parser.add_argument("--note", action="append", default=[], help="a note for the report (repeatable)")
    args = parser.parse_args(argv)
    bundle = args.bundle.resolve()
    if not (bundle / "manifest.json").is_file():
        parser.error(f"no bundle at {bundle} (no manifest.json): run `make export` or pass --bundle DIR")
    if min(args.requests, args.batch_requests, args.container_requests, args.cold_starts) < 1:
        parser.error("--requests, --batch-requests, --container-requests and --cold-starts must be at least 1")

    manifest = load_manifest(bundle)
    bodies = body_sets([row.sentence for row in read_cola_tsv(DEV_FILE)])
    results: dict[str, Any] = {
        "command": "python -m bench.load " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "bundle": str(bundle),
        "model_version": manifest["model_version"],
        "model_file": manifest["serving"]["model_file"],
        "machine": machine_info(("onnxruntime", "tokenizers", "numpy", "chalice")),
        "notes": list(args.note),
    }
    print(f"load test of {bundle} ({results['model_version']})", flush=True)
    log_path = ROOT / "artifacts" / "bench-load" / "chalice-local.log"
    requests = {"single": args.requests, f"batch{BATCH_SIZE}": args.batch_requests}
    results["http"] = http_runs(bundle, bodies, requests, args.concurrency, log_path, args.new_connections)
    if args.no_container:
        results["container_skipped"] = "--no-container"
    else:
        results["container"] = container_runs(bundle, bodies, args.container_requests, args.cold_starts)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(results), encoding="utf-8")
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}", flush=True)
    return exit_status(results)


def exit_status(results: dict[str, Any]) -> int:
    """1 when any request of any run failed (said on stderr), else 0."""
    errors = sum(r["errors"] for r in [*results["http"], *(results.get("container") or {}).get("rows", [])])
    if errors:
        print(f"FAILED: {errors} request(s) failed (see error_samples in the JSON)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
