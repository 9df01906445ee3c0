""".ci/step, the shell of every workflow `run:` step: the step's own exit status, and a failure when the step
changed a tracked file (untracked outputs are fine). Run for real on a scratch git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

STEP = ROOT / ".ci" / "step"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "tracked.txt").write_text("one\n")
    for args in (
        ["init", "-q"],
        ["add", "tracked.txt"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True)
    return root


def step(repo: Path, script: str) -> subprocess.CompletedProcess[str]:
    path = repo.parent / "script.sh"
    path.write_text(script)
    return subprocess.run(["bash", str(STEP), str(path)], cwd=repo, capture_output=True, text=True, timeout=60)


def test_a_step_writing_untracked_files_passes(repo: Path) -> None:
    done = step(repo, "mkdir -p artifacts && echo out > artifacts/x\necho done\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "done"


def test_a_step_changing_a_tracked_file_fails_naming_it(repo: Path) -> None:
    done = step(repo, "echo two >> tracked.txt\n")
    assert done.returncode == 1
    assert "changed tracked files" in done.stdout
    assert "tracked.txt" in done.stdout


def test_a_step_deleting_a_tracked_file_fails(repo: Path) -> None:
    assert step(repo, "rm tracked.txt\n").returncode == 1


@pytest.mark.parametrize(
    ("script", "status"), [("exit 3\n", 3), ("false\necho not reached\n", 1), ("false | true\n", 1)]
)
def test_the_steps_own_failure_is_kept_with_githubs_bash_options(repo: Path, script: str, status: int) -> None:
    done = step(repo, script)
    assert done.returncode == status
    assert "not reached" not in done.stdout
