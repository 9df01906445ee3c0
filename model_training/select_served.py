"""Choose the served run: the distilled student when it beats the plain student on dev MCC, on the same machine.

`python -m model_training.select_served --student distilled-minilm --plain minilm` prints the chosen run name (what
`make all` writes to artifacts/served-run). Both runs must have been trained on one machine fingerprint
(model_training.machine): fine-tuning results move with the CPU's float kernels, so a figure recorded elsewhere is
no yardstick. `--check-plain` only asks whether such a plain run exists (exit 0) or must be trained first (exit 3).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NO_COMPARABLE_PLAIN = 3


class NotComparableError(RuntimeError):
    """The plain run is missing or was trained on another machine fingerprint."""


@dataclass(frozen=True)
class Choice:
    """The run to serve and why."""

    run: str
    student_mcc: float
    plain_mcc: float
    fingerprint: str


def run_metrics(run_dir: Path) -> dict[str, Any]:
    """metrics.json of a finished run; a clear error when the run is missing or unfinished."""
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        raise FileNotFoundError(f"{run_dir} has no metrics.json: the run did not finish (make distill / make train)")
    content: dict[str, Any] = json.loads(metrics.read_text())
    return content


def run_fingerprint(metrics: dict[str, Any]) -> str | None:
    machine = metrics.get("machine") or {}
    return machine.get("fingerprint")


def comparable_plain(student_metrics: dict[str, Any], plain_dir: Path) -> dict[str, Any]:
    """The plain run's metrics when it was trained on the student's machine fingerprint, else NotComparableError."""
    student_print = run_fingerprint(student_metrics)
    if not (plain_dir / "metrics.json").is_file():
        raise NotComparableError(f"no plain run {plain_dir} to compare with")
    plain_metrics = run_metrics(plain_dir)
    plain_print = run_fingerprint(plain_metrics)
    if student_print is None or plain_print != student_print:
        raise NotComparableError(
            f"plain run {plain_dir} was trained on machine {plain_print}, the student on {student_print}: "
            "not comparable"
        )
    return plain_metrics


def choose(runs_dir: Path, student: str, plain: str) -> Choice:
    """Compare the student's best dev MCC with the plain student's, both trained on this machine fingerprint."""
    student_metrics = run_metrics(runs_dir / student)
    plain_metrics = comparable_plain(student_metrics, runs_dir / plain)
    student_mcc = float(student_metrics["best"]["val_mcc"])
    plain_mcc = float(plain_metrics["best"]["val_mcc"])
    winner = student if student_mcc > plain_mcc else plain
    return Choice(winner, student_mcc, plain_mcc, str(run_fingerprint(student_metrics)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, default=Path("artifacts/runs"))
    parser.add_argument("--student", required=True, help="the distilled run, e.g. distilled-minilm")
    parser.add_argument("--plain", required=True, help="the plain student's run, e.g. minilm")
    parser.add_argument("--check-plain", action="store_true", help="exit 3 when the plain run must be trained here")
    args = parser.parse_args(argv)
    try:
        if args.check_plain:
            comparable_plain(run_metrics(args.runs_dir / args.student), args.runs_dir / args.plain)
            return 0
        choice = choose(args.runs_dir, args.student, args.plain)
    except NotComparableError as err:
        print(f"select-served: {err}; train it here: make train RUN={args.plain}", file=sys.stderr)
        return NO_COMPARABLE_PLAIN
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f"select-served: {err}", file=sys.stderr)
        return 2
    print(
        f"select-served: {args.student} dev MCC {choice.student_mcc:.4f} vs {args.plain} {choice.plain_mcc:.4f} "
        f"(both trained on {choice.fingerprint}): serving {choice.run}",
        file=sys.stderr,
    )
    print(choice.run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
