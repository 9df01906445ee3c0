"""A working Python 3.12: what `make package` builds the python3.12 Lambda package with."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def find_python312() -> str | None:
    """A working python3.12 (a pyenv shim may exist without the version being selected)."""
    pyenv = Path("~/.pyenv/versions").expanduser()
    candidates = [shutil.which("python3.12"), *sorted(str(p) for p in pyenv.glob("3.12*/bin/python3.12"))]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return None


if __name__ == "__main__":  # the Makefile's PYTHON312 default: the path, or nothing
    print(find_python312() or "")
