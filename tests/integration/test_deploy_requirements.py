"""requirements/deploy.txt: the release's deploy jobs install it alone (`make venv-deploy`), hash-pinned.

The test does what the job does, for real: a fresh venv, `pip install --require-hashes --no-deps` from the
package index pip is configured with, then make deploy's modules run their --help in that venv (an import missing
from the file fails here). It also checks the file's form without network: every line pinned with `==`, every pin
with a sha256, versions equal to constraints.txt.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEPLOY = ROOT / "requirements" / "deploy.txt"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>\S+) \\\n\s+--hash=sha256:[0-9a-f]{64}$", re.MULTILINE)


def pins(text: str) -> dict[str, str]:
    return {m["name"].lower().replace("_", "-"): m["version"] for m in PIN.finditer(text)}


def test_every_requirement_is_pinned_with_a_hash_at_the_constraints_version() -> None:
    text = DEPLOY.read_text()
    requirements = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    found = pins(text)
    assert len(found) == len(requirements), "a requirement without == and --hash"
    constraints = pins_of_constraints()
    assert {name: version for name, version in found.items() if constraints.get(name) != version} == {}
    assert "index-url" not in text
    assert "find-links" not in text


def pins_of_constraints() -> dict[str, str]:
    lines = (ROOT / "requirements" / "constraints.txt").read_text().splitlines()
    pairs = (line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))
    return {name.strip().lower().replace("_", "-"): version.strip() for name, version in pairs}


@pytest.mark.integration
@pytest.mark.slow
def test_make_deploys_modules_run_in_a_venv_of_deploy_txt_alone(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "--require-hashes", "--no-deps",
         "-r", str(DEPLOY)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    for module in ("infra.image_check", "infra.deploy", "infra.smoke"):
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-m", module, "--help"],
            cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, f"{module}: {done.stderr[-2000:]}"
    listed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=freeze"], capture_output=True, text=True)
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert not {"torch", "onnxruntime", "numpy", "dvc", "cfn-lint"} & installed
