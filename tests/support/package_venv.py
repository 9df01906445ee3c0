"""The packaging venv (.venv-package, Python 3.12, chalice + cfn-lint) that `make package` creates, for tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

VENV_PACKAGE = ROOT / ".venv-package"


def find_python312() -> str | None:
    """A working python3.12 (a pyenv shim may exist without the version being selected)."""
    pyenv = Path("~/.pyenv/versions").expanduser()
    candidates = [shutil.which("python3.12"), *sorted(str(p) for p in pyenv.glob("3.12*/bin/python3.12"))]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return None


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
