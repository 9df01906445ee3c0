"""Dev MCC as a spread, not one lucky number: a ledger of training runs (model, seed, machine) and its summary.

`python -m bench.quality add artifacts/runs/<run> ...` records finished runs (best dev MCC from metrics.json, the
served int8 MCC from the bundle's evaluation when there is one, the machine and its fingerprint) in
bench/results/quality_runs.json; `python -m bench.quality report` writes bench/results/quality.md: per model, the
mean ± sample standard deviation over every recorded run, and the runs by machine. Fine-tuning results move with the
seed and with the CPU's float kernels (model_training/machine.py), so a run is identified by model, recipe, seed and
machine: recording the same run twice replaces it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from chalice_app.chalicelib.contract.evaluation import EvaluationError, evaluation_path, load_evaluation

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ROOT / "bench" / "results" / "quality_runs.json"
REPORT = ROOT / "bench" / "results" / "quality.md"


def machine_name(machine: dict[str, Any]) -> str:
    """A readable name for a recorded machine description: model, family/model/stepping, kernel level."""
    cpu = machine["cpu"]
    torch = machine.get("torch") or {}
    return f"{cpu['model']} {cpu.get('family_model_stepping', '')}, torch {torch.get('cpu_capability', '?')}".strip()


def record_from_run(run_dir: Path, name: str | None = None) -> dict[str, Any]:
    """A ledger entry from a finished run directory (and its bundle's evaluation, when exported and evaluated),
    under `name` when given: a variant trained under the recipe's run name keeps a row of its own."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    machine = metrics.get("machine")
    if not machine:
        raise ValueError(f"{run_dir}: metrics.json records no machine (trained before machine descriptions)")
    config = metrics["config"]
    bundle = run_dir.parents[1] / "bundles" / run_dir.name
    served = load_evaluation(bundle) if evaluation_path(bundle).is_file() else None
    dev = served["splits"].get("dev") if served else None
    return {
        "model": name or run_dir.name,
        "recipe": "smoke" if str(config.get("run_name", "")).startswith("smoke-") else "default",
        "seed": config["seed"],
        "dev_mcc": round(float(metrics["best"]["val_mcc"]), 4),
        "dev_mcc_served": round(dev["mcc"], 4) if dev else None,
        "served_file": served["model_file"] if served else None,
        "machine": machine_name(machine),
        "fingerprint": machine["fingerprint"],
        "source": f"make all / make train, {run_dir.name} (metrics.json)",
    }


def add(ledger: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The ledger with `entry`, replacing a recorded run of the same model, recipe, seed and machine."""
    key = (entry["model"], entry["recipe"], entry["seed"], entry["machine"])
    kept = [e for e in ledger if (e["model"], e["recipe"], e["seed"], e["machine"]) != key]
    return [*kept, entry]


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f} (one run)"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def report(ledger: list[dict[str, Any]]) -> str:
    """The summary table (mean ± sd per model over every recorded run) and the runs themselves."""
    lines = [
        "# Quality as a spread: dev MCC over seeds and machines",
        "",
        "In-domain dev set (527 sentences; dev MCC has a standard error of about 0.035 there). `dev MCC` is the",
        "torch model's best epoch; `served` is the bundle's served model (int8 unless its gates failed) through the",
        "runtime predictor. ± is the sample standard deviation over the runs listed below, whatever their machine.",
        "",
        "| model | runs | seeds | machines | dev MCC | served dev MCC |",
        "|---|---|---|---|---|---|",
    ]
    by_model: dict[str, list[dict[str, Any]]] = {}
    for entry in ledger:
        by_model.setdefault(entry["model"], []).append(entry)
    for model, entries in by_model.items():
        mccs = [e["dev_mcc"] for e in entries if e["dev_mcc"] is not None]
        served = [e["dev_mcc_served"] for e in entries if e.get("dev_mcc_served") is not None]
        lines.append(
            f"| {model} | {len(entries)} | {len({e['seed'] for e in entries})} | "
            f"{len({e['machine'] for e in entries})} | {spread(mccs) if mccs else '-'} | "
            f"{spread(served) if served else '-'} |"
        )
    lines += ["", "| model | seed | machine | dev MCC | served dev MCC | source |", "|---|---|---|---|---|---|"]
    for entry in sorted(ledger, key=lambda e: (e["model"], e["machine"], str(e["seed"]))):
        dev = "-" if entry["dev_mcc"] is None else f"{entry['dev_mcc']:.4f}"
        shown = "-" if entry.get("dev_mcc_served") is None else f"{entry['dev_mcc_served']:.4f}"
        lines.append(
            f"| {entry['model']} | {entry['seed']} | {entry['machine']} | {dev} | {shown} | {entry['source']} |"
        )
    lines += [
        "",
        "Rerun: `python -m bench.quality add artifacts/runs/<run> ...` then `python -m bench.quality report`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    adding = sub.add_parser("add", help="record finished runs in the ledger")
    adding.add_argument("runs", nargs="+", type=Path)
    adding.add_argument(
        "--as",
        dest="name",
        help="record one run under this model name (a variant of a recipe's run, e.g. distilled-minilm-feat): "
        "without it a run replaces the row of the same model, recipe, seed and machine",
    )
    sub.add_parser("report", help="write bench/results/quality.md from the ledger")
    parser.add_argument("--ledger", type=Path, default=LEDGER)
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    ledger: list[dict[str, Any]] = json.loads(args.ledger.read_text()) if args.ledger.is_file() else []
    if args.command == "add":
        if args.name and len(args.runs) > 1:
            print("quality: --as names one run; give one run directory", file=sys.stderr)
            return 2
        for run in args.runs:
            if not (run / "metrics.json").is_file():
                print(f"quality: {run} is not a finished run (no metrics.json)", file=sys.stderr)
                return 2
            try:
                ledger = add(ledger, record_from_run(run, args.name))
            except (ValueError, EvaluationError) as err:
                print(f"quality: {err}", file=sys.stderr)
                return 2
        args.ledger.parent.mkdir(parents=True, exist_ok=True)
        args.ledger.write_text(json.dumps(ledger, indent=2) + "\n")
    args.out.write_text(report(ledger))
    print(report(ledger))
    return 0


if __name__ == "__main__":
    sys.exit(main())
