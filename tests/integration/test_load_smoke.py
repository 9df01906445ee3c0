"""`python -m bench.load` for real with a small N against `chalice local` on the session's smoke bundle.

It starts the server itself (free port, readiness on /health, stopped by PID). Asserted: zero errors, every
(body, concurrency) run reported, the result files written. No timing assertions: speed is what `make bench-load`
measures and reports, not what a test decides.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_load_tool_runs_clean_and_writes_its_results(smoke_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "load"
    done = subprocess.run(
        [
            sys.executable, "-m", "bench.load", "--bundle", str(smoke_bundle), "--requests", "40",
            "--batch-requests", "6", "--concurrency", "1,4", "--no-container", "--out", str(out),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.with_suffix(".json").read_text())
    runs = {(r["body"], r["concurrency"]): r for r in results["http"]}
    assert set(runs) == {("single", 1), ("single", 4), ("batch32", 1), ("batch32", 4)}
    for (body, _), run in runs.items():
        assert (run["ok"], run["errors"]) == (40 if body == "single" else 6, 0), run
        assert run["target"] == "chalice local"
    assert results["model_version"] == json.loads((smoke_bundle / "manifest.json").read_text())["model_version"]
    assert results["machine"]["cpu_count"] >= 1
    assert results["machine"]["fingerprint"] == results["machine"]["description"]["fingerprint"]
    assert results["container_skipped"] == "--no-container"
    report = out.with_suffix(".md").read_text()
    assert "| chalice local | batch32 | 6 | 4 | 0 |" in report
    assert "python -m bench.load" in report
