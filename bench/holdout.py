"""Choosing training knobs on training sentences held out for it, with dev MCC reported beside the choice.

`split` writes the CoLA training file without 1,000 held-out sentences (`train.tsv`) and those sentences
(`heldout.tsv`), the same held-out set as bench/distill_search.py. A run trained on `train.tsv` with
`heldout.tsv` as its validation file selects its checkpoint (and stops early) on the held-out sentences; the dev set
goes in as an extra evaluation split, scored once on that checkpoint:

    python -m bench.holdout split --out artifacts/holdout
    make train RUN=minilm-h ARGS="$(python -m bench.holdout args artifacts/holdout)"
    make distill DISTILLED=distilled-h ARGS="$(python -m bench.holdout args artifacts/holdout) ..."
    python -m bench.holdout report artifacts/runs/minilm-h artifacts/runs/distilled-h ...

`report` writes bench/results/holdout.json and .md: per run, held-out MCC per epoch, the best epoch, and dev MCC
there; with `--append` the runs already recorded there stay (a run of the same name is replaced). The teacher
is the one `make all` trains, on every training sentence: its soft labels on the copies of the
kept sentences carry a little of what it learned from the held-out ones, the same for every compared setting.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bench.quality import machine_name

ROOT = Path(__file__).resolve().parents[1]
TRAIN_FILE = ROOT / "data" / "cola" / "raw" / "in_domain_train.tsv"
DEV_FILE = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"
RESULTS = ROOT / "bench" / "results" / "holdout"
HOLDOUT = 1000
SPLIT_SEED = 0


def held_out_mask(n: int, holdout: int = HOLDOUT, seed: int = SPLIT_SEED) -> np.ndarray:
    """Which of n training rows are held out: `holdout` of them, drawn once with a fixed seed."""
    if not 0 < holdout < n:
        raise ValueError(f"holdout must be between 1 and {n - 1} rows, got {holdout}")
    held = np.zeros(n, bool)
    held[np.random.default_rng(seed).choice(n, holdout, replace=False)] = True
    return held


def split(out: Path, train_file: Path = TRAIN_FILE, holdout: int = HOLDOUT) -> tuple[Path, Path]:
    """Write out/train.tsv (rows kept, in file order) and out/heldout.tsv (the held-out rows); returns both paths."""
    lines = train_file.read_text().splitlines(keepends=True)
    held = held_out_mask(len(lines), holdout)
    out.mkdir(parents=True, exist_ok=True)
    kept_file, held_file = out / "train.tsv", out / "heldout.tsv"
    kept_file.write_text("".join(line for line, h in zip(lines, held, strict=True) if not h))
    held_file.write_text("".join(line for line, h in zip(lines, held, strict=True) if h))
    return kept_file, held_file


def hydra_args(split_dir: Path, dev_file: Path = DEV_FILE) -> str:
    """The overrides that train on the kept rows, select on the held-out ones and score dev at the end."""
    split_dir = split_dir.resolve()
    for name in ("train.tsv", "heldout.tsv"):
        if not (split_dir / name).is_file():
            raise FileNotFoundError(f"{split_dir / name} missing: run python -m bench.holdout split --out {split_dir}")
    return (
        f"data.train_file={split_dir / 'train.tsv'} data.validation_file={split_dir / 'heldout.tsv'} "
        f"+data.extra_eval_files.dev={dev_file.resolve()}"
    )


def run_row(run_dir: Path) -> dict[str, Any]:
    """One compared run: its knobs, held-out MCC per epoch, the held-out-selected epoch and dev MCC there."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    evaluated = metrics.get("eval", {})
    if "dev" not in evaluated:
        raise ValueError(f"{run_dir}: no dev split scored; train it with `python -m bench.holdout args`'s overrides")
    config = metrics["config"]
    distillation = metrics.get("distillation") or {}
    init = distillation.get("student_init")
    if init is None and "distill" in config:
        init = {"run_name": Path(config["model"]["path"]).parent.name} if config["model"].get("path") else None
    return {
        "run": run_dir.name,
        "seed": config["seed"],
        "model": metrics["model"]["name"],
        "distilled": bool(distillation),
        "teacher": teacher_label(distillation.get("teacher")),
        "temperature": distillation.get("temperature"),
        "student_init": init["run_name"] if init else None,
        "epochs": metrics["timing"]["epochs"],
        "length_grouped": bool(config["data"]["group_by_length"]),
        "train_seconds": metrics["timing"]["train_seconds"],
        "heldout_by_epoch": [round(float(row["val/mcc"]), 4) for row in metrics["history"]],
        "best_epoch": metrics["best"]["epoch"],
        "heldout_mcc": round(float(evaluated["validation"]["mcc"]), 4),
        "dev_mcc": round(float(evaluated["dev"]["mcc"]), 4),
        "machine": machine_name(metrics["machine"]),
        "fingerprint": metrics["machine"]["fingerprint"],
    }


def teacher_label(teacher: dict[str, Any] | None) -> str | None:
    """A distilled run's teacher as `run (version, its MCC)`; None for a run trained on gold labels alone."""
    if not teacher:
        return None
    scored = teacher.get("metrics", {}).get("eval", {})
    split = "dev" if "dev" in scored else "validation"  # a teacher trained on all of train validates on dev
    mcc = scored.get(split, {}).get("mcc")
    return f"{teacher['run_name']} ({teacher['model_version']}" + (f", {split} {mcc:.3f})" if mcc is not None else ")")


def report(rows: list[dict[str, Any]]) -> str:
    """The markdown table of the compared runs."""
    lines = [
        "# Knobs chosen on held-out training sentences",
        "",
        f"{HOLDOUT} of CoLA's 8,551 training sentences are held out (`python -m bench.holdout split`); each run below",
        "trained on the other 7,551 (and, when distilled, their perturbed copies), picked its best epoch on the",
        "held-out sentences and was then scored once on the dev set. Choices are made on the held-out column; the dev",
        "column shows whether a choice only suits one set. MCC on 1,000 sentences has a standard error of about 0.03.",
        "",
        "| run | model | teacher | T | starts from | batches | seed | held-out MCC by epoch | best epoch "
        "| held-out MCC | dev MCC | minutes | machine |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        by_epoch = ", ".join(f"{mcc:.3f}" for mcc in row["heldout_by_epoch"])
        cells = [
            row["run"],
            row["model"],
            row["teacher"] or "none (gold labels)",
            "-" if row["temperature"] is None else f"{row['temperature']:g}",
            row["student_init"] or "pretrained",
            "length-grouped" if row["length_grouped"] else "random",
            str(row["seed"]),
            by_epoch,
            str(row["best_epoch"] + 1),
            f"**{row['heldout_mcc']:.4f}**",
            f"{row['dev_mcc']:.4f}",
            f"{row['train_seconds'] / 60:.1f}",
            f"{row['machine']} ({row['fingerprint']})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Rerun: `python -m bench.holdout split --out artifacts/holdout`, train each run with",
        '`ARGS="$(python -m bench.holdout args artifacts/holdout) ..."` (each run\'s overrides: its metrics.json),',
        "then `python -m bench.holdout report artifacts/runs/<run> ...`.",
    ]
    return "\n".join(lines) + "\n"


def recorded(path: Path) -> list[dict[str, Any]]:
    """The rows of an earlier report (none when it does not exist yet)."""
    if not path.is_file():
        return []
    rows = json.loads(path.read_text())
    if not isinstance(rows, list):
        raise ValueError(f"{path} is not a held-out report (a JSON list of runs)")
    return rows


def merged(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The earlier rows in their order, a rerun replacing its row in place, then the runs not reported before."""
    fresh = {row["run"]: row for row in new}
    rows = [fresh.pop(row["run"], row) for row in old]
    return rows + [row for row in new if row["run"] in fresh]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    splitting = sub.add_parser("split", help="write train.tsv and heldout.tsv")
    splitting.add_argument("--out", type=Path, required=True)
    arguments = sub.add_parser("args", help="print the Hydra overrides for a held-out run")
    arguments.add_argument("split_dir", type=Path)
    reporting = sub.add_parser("report", help="write bench/results/holdout.{json,md} from finished runs")
    reporting.add_argument("runs", nargs="+", type=Path)
    reporting.add_argument("--out", type=Path, default=RESULTS)
    reporting.add_argument(
        "--append",
        action="store_true",
        help="keep the rows already in --out's .json (a run of the same name is replaced)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "split":
            kept, held = split(args.out)
            print(f"holdout: {kept} and {held}")
        elif args.command == "args":
            print(hydra_args(args.split_dir))
        else:
            rows = [run_row(run) for run in args.runs]
            if args.append:
                rows = merged(recorded(args.out.with_suffix(".json")), rows)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
            table = report(rows)
            args.out.with_suffix(".md").write_text(table)
            print(table)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"holdout: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
