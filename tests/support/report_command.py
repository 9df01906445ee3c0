"""The drift report as users run it: `python -m monitoring.drift.report` in its own process, from the repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_report(bundle: Path, log: Path, out: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the report of `log` against `bundle`'s reference into `out` (and its .json beside it)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "monitoring.drift.report",
            "--bundle",
            str(bundle),
            "--log",
            str(log),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
