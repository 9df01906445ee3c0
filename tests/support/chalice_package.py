"""A real `chalice package` on a copy of the app as it is now: dependencies left out (an empty requirements.txt),
since only the SAM template matters to its users; no AWS call is made."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHALICE = Path(sys.executable).parent / "chalice"


def copy_app(destination: Path) -> Path:
    """chalice_app with the repository's .chalice/*.json (config and policy files) copied into destination."""
    shutil.copytree(
        ROOT / "chalice_app", destination, ignore=shutil.ignore_patterns("__pycache__", "bundle", ".chalice")
    )
    (destination / ".chalice").mkdir()
    for path in (ROOT / ".chalice").glob("*.json"):
        shutil.copy(path, destination / ".chalice" / path.name)
    (destination / "requirements.txt").write_text("")
    return destination


def package(app: Path, stage: str, out: Path, region: str) -> Path:
    """Run `chalice package` (CloudFormation, JSON) for stage; the path of the sam.json it wrote."""
    command = [str(CHALICE), "package", "--stage", stage, "--pkg-format", "cloudformation", "--template-format", "json"]
    result = subprocess.run(
        [*command, str(out)],
        cwd=app, env={**os.environ, "AWS_DEFAULT_REGION": region}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "sam.json"


def read_template(path: Path) -> dict[str, Any]:
    """A template chalice package wrote."""
    template: dict[str, Any] = json.loads(path.read_text())
    return template
