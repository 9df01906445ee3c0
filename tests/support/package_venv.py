"""The packaging venv (.venv-package, Python 3.12, chalice + cfn-lint) that `make package` creates, for tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devtools.python312 import find_python312
from tests.conftest import ROOT

VENV_PACKAGE = ROOT / ".venv-package"


def cfn_lint() -> Path:
    """.venv-package's cfn-lint, creating the venv with the Makefile's own rule when it is missing."""
    executable = VENV_PACKAGE / "bin" / "cfn-lint"
    if not executable.exists():
        python312 = find_python312()
        if python312 is None:
            pytest.skip("python3.12 is not installed: .venv-package (cfn-lint) needs it")
        result = subprocess.run(
            [
                "make",
                "--no-print-directory",
                f"PYTHON312={python312}",
                str((VENV_PACKAGE / ".installed").relative_to(ROOT)),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, f"creating .venv-package failed:\n{result.stdout}\n{result.stderr}"
    return executable


def run_cfn_lint(template: Path, *ignore: str) -> subprocess.CompletedProcess[str]:
    """cfn-lint on one template file (ignoring the given check ids)."""
    args = [str(cfn_lint()), str(template)] + [f"--ignore-checks={check}" for check in ignore]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)
