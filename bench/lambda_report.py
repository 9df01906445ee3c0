"""The outputs of `make bench-lambda`: the results as JSON, a markdown table and a Power Tuning-style plot.

The plot puts time and cost against memory size, as AWS Lambda Power Tuning does: per request shape (one
sentence, a batch), p50 and p95 latency on the left axis and Lambda's cost per million on the right, the sizes
above one vCPU shaded (this machine cannot give them what Lambda would) and the recommended sizes marked.
Figures are built with matplotlib's object API (no pyplot, no display, no global state).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

TIME_COLORS = {"p50_ms": "#1f77b4", "p95_ms": "#17becf"}
COST_COLORS = {"x86_64": "#d62728", "arm64": "#ff7f0e"}
SIZE_INCHES = (11.0, 4.2)
DPI = 100


def write_outputs(results: Mapping[str, Any], out: Path) -> None:
    """OUT.json, OUT.md and OUT.png from the results of bench.lambda_power."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(results, out.with_suffix(".png").name), encoding="utf-8")
    out.with_suffix(".png").write_bytes(plot_png(results))


def cpu_note(row: Mapping[str, Any]) -> str:
    """What this machine could not give the size (empty when its share fits one vCPU)."""
    if row["capped"]:
        return f"capped: {row['vcpu_share']} vCPUs asked, this machine has {row['host_cpus']}"
    if row["beyond_one_vcpu"]:
        return (
            f"> 1 vCPU: Lambda spreads it over 2 vCPUs; here the quota runs on this machine's {row['host_cpus']} "
            "cores, shared with other jobs"
        )
    return ""


def threads_of(row: Mapping[str, Any]) -> str:
    """The intra-op threads the container ran with: forced by ORT_THREADS or sized from the quota."""
    inside = row.get("inside", {})
    if row.get("image") and "auto_threads" not in inside:
        return f"{inside.get('ort_threads_env') or '?'} (the image's ORT_THREADS, spinning)"
    forced = row["environment"].get("ORT_THREADS")
    if forced:
        return f"{forced} (ORT_THREADS)"
    return f"{row.get('inside', {}).get('auto_threads', '?')} (auto)"


def _ms(figures: Mapping[str, Any]) -> str:
    if "p50_ms" not in figures:
        return "- | - | -"
    return f"{figures['p50_ms']} | {figures['p95_ms']} | {figures['p99_ms']}"


def _cold(row: Mapping[str, Any], key: str) -> str:
    value = row["cold"].get(f"{key}_median")
    return "-" if value is None else f"{value:.2f}"


def _cost(row: Mapping[str, Any], shape: str, key: str) -> str:
    value = row["cost_per_million"].get(shape, {}).get(key)
    return "-" if value is None else f"{value:.4f}"


def latency_table(rows: Sequence[Mapping[str, Any]], first_column: str = "memory MB") -> list[str]:
    """Cold start and latency per row."""
    lines = [
        f"| {first_column} | vCPU share | docker --cpus | ORT threads | init s | first answer s | "
        "single p50 ms | p95 | p99 | batch-32 p50 ms | p95 | p99 | busy single p95 ms | errors | CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        first = r["memory_mb"] if first_column == "memory MB" else f"{r['memory_mb']} MB, {r['label']}"
        lines.append(
            f"| {first} | {r['vcpu_share']} | {r['cpus_given']} | {threads_of(r)} | {_cold(r, 'process_to_init_s')} | "
            f"{_cold(r, 'first_answer_s')} | {_ms(r['single'])} | {_ms(r['batch'])} | "
            f"{r.get('saturated_single', {}).get('p95_ms', '-')} | {r['errors']} | {cpu_note(r)} |"
        )
    return lines


def cost_table(rows: Sequence[Mapping[str, Any]], first_column: str = "memory MB") -> list[str]:
    """Billed durations and cost per million per row."""
    lines = [
        f"| {first_column} | single billed ms (mean) | Lambda x86_64 $/M predictions | arm64 | x86_64 + API Gateway | "
        "batch-32 billed ms (mean) | Lambda x86_64 $/M sentences | arm64 | x86_64 + API Gateway |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        first = r["memory_mb"] if first_column == "memory MB" else f"{r['memory_mb']} MB, {r['label']}"
        lines.append(
            f"| {first} | {r['single'].get('billed_mean_ms', '-')} | {_cost(r, 'single', 'x86_64')} | "
            f"{_cost(r, 'single', 'arm64')} | {_cost(r, 'single', 'x86_64_with_api_gateway')} | "
            f"{r['batch'].get('billed_mean_ms', '-')} | {_cost(r, 'batch', 'x86_64')} | {_cost(r, 'batch', 'arm64')} | "
            f"{_cost(r, 'batch', 'x86_64_with_api_gateway')} |"
        )
    return lines


def markdown(results: Mapping[str, Any], plot_name: str) -> str:
    """The human-readable report."""
    m, config, prices = results["machine"], results["config"], results["prices"]
    image = results["image"]
    lines = [
        "# Lambda power tuning: latency and cost per memory size",
        "",
        f"Command: `{results['command']}`",
        "",
        f"Image {image['image']} ({image['size_bytes'] / 1e6:.0f} MB, base {image['base_image']}) of bundle "
        f"`{results['bundle']}` ({results['model_version']}, {results['model_file']}). Machine: {m['processor']} "
        f"({m['fingerprint']}), {results['host_cpus']} CPUs shared with other jobs (load average "
        f"{m['load_average_at_start']} at start), onnxruntime {m['onnxruntime']} on the host.",
        "",
        "## Recommended memory sizes",
        "",
        "| stage | memory MB | why |",
        "|---|---|---|",
        *[f"| {stage} | **{c['memory_mb']}** | {c['reason']} |" for stage, c in results["recommendation"].items()],
        "",
        f"![time and cost against memory]({plot_name})",
        "",
        "## Latency per memory size",
        "",
        *latency_table(results["sizes"]),
        "",
        f"## Cost per million (USD, {prices['region']}, prices taken {prices['taken']}: {config['prices']})",
        "",
        *cost_table(results["sizes"]),
        "",
    ]
    if results["threads"]:
        lines += [
            f"## ONNX Runtime threads at {results['threads'][0]['memory_mb']} MB: sized from the quota vs forced",
            "",
            *latency_table(results["threads"], first_column="setting"),
            "",
            *cost_table(results["threads"], first_column="setting"),
            "",
        ]
    lines += [
        "## How",
        "",
        f"Each size runs the image with `docker run --memory=<MB>m --cpus=<MB/{config['mb_per_vcpu']}>` (Lambda "
        f"gives one vCPU's worth of CPU time at {config['mb_per_vcpu']} MB; Docker's `--cpus` sets a CFS quota), "
        "read-only with a tmpfs /tmp, and feeds it API Gateway events through the Lambda Runtime API one at a "
        "time, as Lambda feeds an instance. **init**: the container's process start (`docker inspect` StartedAt) "
        "→ the runtime client's first poll of the Runtime API (interpreter, awslambdaric, the app's import: "
        "Lambda's Init Duration); **first answer**: `docker run` → the first /predict answer (docker's container "
        "creation, init, the bundle's hash check and model load, one prediction), median of "
        f"{config['cold_starts']} fresh containers per round. Then in the last container: {config['warmup']} warm-up "
        f"invocations, {config['single_requests']} single-sentence and {config['batch_requests']} "
        f"batch-of-{config['batch_size']} invocations, each {config['pause_ms']:g} ms after the previous answer "
        "(one CFS period: every invocation starts with the instance's whole share, as under sparse traffic), and "
        f"**busy**: {config['saturated_requests']} single sentences back to back (a saturated instance spends its "
        "quota and waits for the next period). Latency: event queued → the handler's result back (Lambda's "
        "Duration plus the Runtime API's loopback round trip). Billed: each duration rounded up to "
        f"{prices['granularity_ms']} ms. Cost per million: mean billed duration × memory (GB = MB/1024) × "
        "the GB-second price + Lambda's request price (+ API Gateway REST's request price in the `+ API Gateway` "
        f"columns, per request: batches of {config['batch_size']} divide it), no free tier. The arm64 figures "
        "price the x86_64 durations measured here (the image is built for linux/amd64; Graviton's speed is not "
        f"measured). Bodies cycle through the CoLA dev sentences. {config['rounds']} rounds, the sizes forwards then "
        f"backwards, samples pooled per size; this machine's 1-minute load average at the start of each run ranged "
        f"from {load_range(results)} on {results['host_cpus']} CPUs. " + priority_note(results),
        "",
        "What this machine cannot reproduce: Lambda's own CPU (a different processor), its Firecracker "
        "isolation, and sizes above one vCPU, where Lambda adds a second vCPU and this machine's two cores are "
        "shared with other jobs (the `CPU` column says so). The base image is a Debian debootstrap one, not "
        "public.ecr.aws/lambda/python:3.12 (no registry reachable), so init times are indicative.",
        "",
        *[f"Note: {note}" for note in results["notes"]],
    ]
    return "\n".join(lines).rstrip() + "\n"


def priority_note(results: Mapping[str, Any]) -> str:
    """Whether the containers had CPU priority over the machine's other work (bench/cpu_priority.py)."""
    if results.get("cpu_priority"):
        return (
            "The containers ran under a cgroup weighted above the machine's other work and the benchmark's own "
            "threads at a lower niceness (bench/cpu_priority.py), so each size got its quota when runnable, as a "
            "Lambda instance gets its share."
        )
    return (
        "The containers had no CPU priority (not root, or no cgroup v1 cpu controller): on a busy machine a size "
        "may get less than its quota, and sizes above what the machine leaves free look alike."
    )


def load_range(results: Mapping[str, Any]) -> str:
    """The lowest and highest 1-minute load average seen at the start of a run."""
    loads = [load[0] for r in [*results["sizes"], *results["threads"]] for load in r["load_average_per_round"]]
    return f"{min(loads):.1f} to {max(loads):.1f}" if loads else "(not recorded)"


def plot_png(results: Mapping[str, Any]) -> bytes:
    """Time (p50, p95) and Lambda cost per million against memory, one panel per request shape."""
    rows = results["sizes"]
    sizes = [r["memory_mb"] for r in rows]
    positions = list(range(len(sizes)))
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    panels = figure.subplots(1, 2)
    shapes = (
        ("single", "one sentence", "$ per million predictions"),
        ("batch", "batch of 32", "$ per million sentences"),
    )
    for axes, (shape, title, cost_label) in zip(panels, shapes, strict=True):
        for key, color in TIME_COLORS.items():
            values = [r[shape].get(key) for r in rows]
            axes.plot(positions, values, marker="o", color=color, label=f"{key.removesuffix('_ms')} latency")
        axes.set_ylabel("latency (ms)")
        axes.set_xlabel("memory (MB)")
        axes.set_xticks(positions, [str(s) for s in sizes])
        axes.set_xlim(-0.5, len(sizes) - 0.5)  # one size alone would otherwise collapse the axis
        axes.set_ylim(bottom=0)
        beyond = [i for i, r in enumerate(rows) if r["beyond_one_vcpu"]]
        if beyond:
            axes.axvspan(beyond[0] - 0.5, positions[-1] + 0.5, color="0.85", zorder=0)
            axes.text(beyond[0] - 0.4, 0.02, "> 1 vCPU: 2 shared\ncores here", transform=axes.get_xaxis_transform(),
                      fontsize=7, color="0.35")  # fmt: skip
        for stage, choice in results["recommendation"].items():
            if choice["memory_mb"] in sizes:
                x = sizes.index(choice["memory_mb"])
                axes.axvline(x, color="0.3", linestyle=":", linewidth=1)
                axes.text(x + 0.05, 0.95, stage, transform=axes.get_xaxis_transform(), fontsize=8, va="top")
        cost_axes = axes.twinx()
        for arch, color in COST_COLORS.items():
            values = [r["cost_per_million"].get(shape, {}).get(arch) for r in rows]
            cost_axes.plot(positions, values, marker="s", linestyle="--", color=color, label=f"Lambda {arch} cost")
        cost_axes.set_ylabel(f"Lambda {cost_label} (USD)")
        cost_axes.set_ylim(bottom=0)
        axes.set_title(f"{title}: time and cost against memory", fontsize=10)
        handles = axes.get_legend_handles_labels()[0] + cost_axes.get_legend_handles_labels()[0]
    figure.legend(handles=handles, fontsize=8, loc="outside lower center", ncol=len(handles))
    machine = results["machine"]
    figure.suptitle(
        f"{results['model_version']} Lambda image under Lambda's CPU share (docker --cpus); "
        f"{machine['processor']}, {results['host_cpus']} shared CPUs",
        fontsize=9,
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
