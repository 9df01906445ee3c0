"""In CI a skipped test fails the run: a skip there means something .ci/run should have installed is missing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT, skips_fail_the_run


def test_skips_fail_only_under_ci() -> None:
    assert skips_fail_the_run({"CI": "true"}, 2) is not None
    assert skips_fail_the_run({"CI": "true"}, 0) is None
    assert skips_fail_the_run({}, 2) is None


def test_a_skipping_suite_fails_under_ci_and_passes_otherwise(tmp_path: Path) -> None:
    """The real hook, in a pytest run of one passing and one skipping test, under this repository's conftest."""
    test = ROOT / "tests" / "unit" / "project" / f"test_zz_skip_probe_{os.getpid()}.py"
    test.write_text(
        textwrap.dedent("""
        import pytest
        def test_runs() -> None: pass
        def test_skips() -> None: pytest.skip("tool missing")
    """)
    )
    try:

        def run(ci: str) -> subprocess.CompletedProcess[str]:
            env = {**os.environ, "CI": ci}
            return subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip

        assert run("false").returncode == 0
        under_ci = run("true")
        assert under_ci.returncode == 1
        assert "1 test(s) skipped" in under_ci.stdout
    finally:
        test.unlink()
