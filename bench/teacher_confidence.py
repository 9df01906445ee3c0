"""How confident a teacher's soft targets are, from its cached logits on a transfer set, at several temperatures.

`python -m bench.teacher_confidence artifacts/distill/teacher_logits/*.npz [--temperatures 1,2,3]`
→ bench/results/teacher_confidence.{json,md}.

The cache files are what `make distill` writes (model_training/distillation/teacher_logits.py): the teacher's
logits on every transfer sentence and their provenance (teacher version and run, sentence count). Per file: the
mean top-class probability at each temperature and the mean logit margin |l1 - l0|. A longer-trained teacher has
larger margins; dividing by a larger temperature gives its soft targets back the sharpness a weaker teacher's had
(docs/training.md, "A longer-trained teacher needs a higher temperature").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "teacher_confidence"


class Confidence(TypedDict):
    """One teacher on one transfer set."""

    file: str
    teacher_run: str
    teacher_version: str
    teacher_mcc: float | None
    n: int
    mean_margin: float
    mean_top_probability: dict[str, float]


def confidence(logits: np.ndarray, temperatures: list[float]) -> tuple[float, dict[str, float]]:
    """Mean |l1 - l0| and, per temperature, the mean probability of the top class of softmax(logits / T)."""
    if logits.ndim != 2 or logits.shape[1] != 2 or len(logits) == 0:
        raise ValueError(f"expected logits of shape (n, 2) with n > 0, got {logits.shape}")
    margin = np.abs(logits[:, 1] - logits[:, 0]).astype(np.float64)
    # With two classes the top probability is the sigmoid of the margin divided by T.
    top = {f"{t:g}": float(np.mean(1.0 / (1.0 + np.exp(-margin / t)))) for t in temperatures}
    return float(margin.mean()), top


def describe(path: Path, temperatures: list[float]) -> Confidence:
    """The confidence figures of one cache file, named by its teacher."""
    with np.load(path) as stored:
        if "logits" not in stored or "provenance" not in stored:
            raise ValueError(f"{path} is not a teacher-logits cache (make distill writes them): no logits/provenance")
        logits = np.asarray(stored["logits"])
        provenance: dict[str, Any] = json.loads(str(stored["provenance"]))
    margin, top = confidence(logits, temperatures)
    best = (provenance.get("metrics") or {}).get("best") or {}
    return {
        "file": path.name,
        "teacher_run": str(provenance.get("run_name", "?")),
        "teacher_version": str(provenance.get("model_version", "?")),
        "teacher_mcc": best.get("val_mcc"),
        "n": len(logits),
        "mean_margin": margin,
        "mean_top_probability": top,
    }


def markdown(rows: list[Confidence], temperatures: list[float], command: str) -> str:
    heads = " | ".join(f"top p, T = {t:g}" for t in temperatures)
    lines = [
        "# Teacher confidence on the transfer set",
        "",
        "Mean logit margin |l1 - l0| and mean top-class probability of the soft targets softmax(logits / T), from "
        "the teachers' cached logits (`artifacts/distill/teacher_logits/`).",
        "",
        f"| teacher run | version | dev MCC | sentences | mean margin | {heads} | file |",
        "|---|---|---|---|---|" + "---|" * len(temperatures) + "---|",
    ]
    for row in rows:
        mcc = "-" if row["teacher_mcc"] is None else f"{row['teacher_mcc']:.4f}"
        tops = " | ".join(f"{row['mean_top_probability'][f'{t:g}']:.3f}" for t in temperatures)
        lines.append(
            f"| {row['teacher_run']} | {row['teacher_version']} | {mcc} | {row['n']} | {row['mean_margin']:.3f} | "
            f"{tops} | `{row['file']}` |"
        )
    lines += ["", f"Rerun: `{command}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="teacher-logits cache files (.npz)")
    parser.add_argument("--temperatures", default="1,2,3", help="comma-separated temperatures (default 1,2,3)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results path without suffix")
    args = parser.parse_args(argv)
    try:
        temperatures = [float(t) for t in args.temperatures.split(",")]
    except ValueError:
        parser.error(f"--temperatures must be numbers separated by commas, got {args.temperatures!r}")
    if any(t <= 0 for t in temperatures):
        parser.error(f"--temperatures must all be > 0, got {args.temperatures!r}")
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        parser.error(
            f"no such file: {', '.join(missing)} (make distill writes them to artifacts/distill/teacher_logits)"
        )
    try:
        rows = [describe(f, temperatures) for f in args.files]
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    files = " ".join(str(f) for f in args.files)
    command = f"python -m bench.teacher_confidence {files} --temperatures {args.temperatures}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"temperatures": temperatures, "teachers": rows}, indent=2) + "\n"
    )
    args.out.with_suffix(".md").write_text(markdown(rows, temperatures, command))
    print(markdown(rows, temperatures, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
