"""Choose the served run: the distilled student when it beats the plain student on dev MCC.

`python -m model_training.select_served --student distilled-minilm --plain minilm [--plain-reference 0.4036]`
prints the chosen run name (what `make all` writes to artifacts/served-run) and exits 0 when the student wins, 3
when the plain student should be served instead. The plain student's MCC comes from its own run when one exists
(artifacts/runs/<plain>/metrics.json), else from the reference the caller passes (conf/distill: the figure
`make train` measured for the plain preset), so `make all` need not train both students.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

PLAIN_WINS = 3
DISTILL_CONF = Path(__file__).resolve().parents[1] / "conf" / "distill" / "default.yaml"


@dataclass(frozen=True)
class Choice:
    """The run to serve and why."""

    run: str
    student_mcc: float
    plain_mcc: float
    plain_source: str

    @property
    def student_wins(self) -> bool:
        return self.student_mcc > self.plain_mcc


def best_val_mcc(run_dir: Path) -> float:
    """Best validation MCC of a finished run; a clear error when the run is missing or unfinished."""
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        raise FileNotFoundError(f"{run_dir} has no metrics.json: the run did not finish (make distill / make train)")
    return float(json.loads(metrics.read_text())["best"]["val_mcc"])


def choose(runs_dir: Path, student: str, plain: str, plain_reference: float | None) -> Choice:
    """Compare the student's dev MCC with the plain student's (its run, else the reference)."""
    student_mcc = best_val_mcc(runs_dir / student)
    if (runs_dir / plain / "metrics.json").is_file():
        plain_mcc, source = best_val_mcc(runs_dir / plain), f"run {runs_dir / plain}"
    elif plain_reference is not None:
        plain_mcc, source = plain_reference, "reference figure (no plain run here)"
    else:
        raise FileNotFoundError(f"no plain run {runs_dir / plain} and no --plain-reference to compare with")
    winner = student if student_mcc > plain_mcc else plain
    return Choice(winner, student_mcc, plain_mcc, source)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, default=Path("artifacts/runs"))
    parser.add_argument("--student", required=True, help="the distilled run, e.g. distilled-minilm")
    parser.add_argument("--plain", required=True, help="the plain student's run, e.g. minilm")
    parser.add_argument("--plain-reference", type=float, default=None, help="plain dev MCC when it has no run")
    parser.add_argument("--conf", type=Path, default=DISTILL_CONF, help="reference from plain_student_val_mcc here")
    args = parser.parse_args(argv)
    if args.plain_reference is None and args.conf.is_file():
        args.plain_reference = yaml.safe_load(args.conf.read_text()).get("plain_student_val_mcc")
    try:
        choice = choose(args.runs_dir, args.student, args.plain, args.plain_reference)
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f"select-served: {err}", file=sys.stderr)
        return 2
    print(
        f"select-served: {args.student} dev MCC {choice.student_mcc:.4f} vs {args.plain} {choice.plain_mcc:.4f} "
        f"({choice.plain_source}): serving {choice.run}",
        file=sys.stderr,
    )
    print(choice.run)
    return 0 if choice.student_wins else PLAIN_WINS


if __name__ == "__main__":
    sys.exit(main())
