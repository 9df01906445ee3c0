"""The dvc.lock gate with real DVC: a small pipeline is reproduced and committed in a scratch git repository, its
outputs removed as in a fresh clone (the release's gate runs without credentials, so nothing is pulled), then code,
parameters and the command are changed one at a time. `dvc status` says which; the gate refuses exactly those.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.release_gate import GateError, check_lock

pytestmark = [pytest.mark.integration]

DVC = str(Path(sys.executable).parent / "dvc")
PIPELINE = """stages:
  build:
    cmd: mkdir -p out && cat code/x.py > out/b.txt
    deps: [code]
    params: [p]
    outs: [out]
  use:
    cmd: cat out/b.txt > final.txt
    deps: [out]
    outs: [final.txt]
"""


def run(repo: Path, *args: str) -> None:
    subprocess.run(list(args), cwd=repo, check=True, capture_output=True, timeout=300)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A committed pipeline whose outputs are gone (as after a clone without `dvc pull`)."""
    repo = tmp_path / "repo"
    (repo / "code").mkdir(parents=True)
    (repo / "code" / "x.py").write_text("a\n")
    (repo / "params.yaml").write_text("p: 1\n")
    (repo / "dvc.yaml").write_text(PIPELINE)
    run(repo, "git", "init", "-q")
    run(repo, DVC, "init", "-q")
    run(repo, DVC, "repro", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "pipeline")
    shutil.rmtree(repo / "out")
    (repo / "final.txt").unlink()
    shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
    return repo


def test_a_clean_clone_without_outputs_passes(clone: Path) -> None:
    check_lock(clone, DVC)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda r: (r / "code" / "x.py").write_text("b\n"), "dep code modified"),
        (lambda r: (r / "params.yaml").write_text("p: 2\n"), "param params.yaml:p modified"),
        (lambda r: (r / "dvc.yaml").write_text(PIPELINE.replace("cat out", "cat  out")), "use: changed command"),
    ],
    ids=["code", "param", "command"],
)
def test_a_lock_the_code_has_moved_past_is_refused(clone: Path, edit: Callable[[Path], object], named: str) -> None:
    edit(clone)
    with pytest.raises(GateError, match=f"(?s)does not match this commit.*{named}.*make dvc-repro"):
        check_lock(clone, DVC)


def test_no_lock_is_refused(clone: Path) -> None:
    (clone / "dvc.lock").unlink()
    with pytest.raises(GateError, match=r"dvc.lock is not committed"):
        check_lock(clone, DVC)
