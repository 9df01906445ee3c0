"""The Makefile is the project's front door: every target documented, the README's commands real."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()


def dry_run(*arguments: str) -> str:
    """What `make -n` would run (sub-makes included), with no virtualenv stamp to build."""
    return subprocess.run(
        ["make", "-n", *arguments, "STAMP="], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout


TARGETS = sorted(set(re.findall(r"^([a-z][a-z0-9_-]*):", MAKEFILE, flags=re.MULTILINE)))


def test_every_target_has_a_help_line() -> None:
    undocumented = [t for t in TARGETS if not re.search(rf"^{re.escape(t)}:.*## \S", MAKEFILE, flags=re.MULTILINE)]
    assert undocumented == []


def test_make_help_lists_every_target() -> None:
    shown = help_text()
    for target in TARGETS:
        assert re.search(rf"\b{re.escape(target)}\b", shown), target


SECTIONS = ("train", "bundle", "serve", "deliver", "monitor", "develop")


def help_text() -> str:
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return re.sub(r"\x1b\[[0-9;]*m", "", shown)


def test_every_help_line_names_a_known_section() -> None:
    sections = re.findall(r"^[a-zA-Z0-9_-]+:.*## \[([a-z]+)\] ", MAKEFILE, flags=re.MULTILINE)
    assert len(sections) == len(TARGETS)
    assert set(sections) <= set(SECTIONS)


def test_make_help_is_grouped_in_sections_and_fits_80_columns() -> None:
    shown = help_text()
    headings = [line.removesuffix(":") for line in shown.splitlines() if line and not line.startswith(" ")]
    assert headings == list(SECTIONS)
    assert max(len(line) for line in shown.splitlines()) <= 80


def test_readme_set_up_is_make_all_then_make_test() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make all" in readme
    assert "make test" in readme
    assert "all:" in MAKEFILE
    assert "test:" in MAKEFILE


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", ci, flags=re.MULTILINE)


def test_make_student_gives_its_overrides_to_the_distillation_not_to_the_export() -> None:
    shown = dry_run("student", "DISTILLED=distilled-t3", "ARGS=distill.temperature=3.0")
    distill = next(line for line in shown.splitlines() if "-m model_training.distill " in line)
    export = next(line for line in shown.splitlines() if "-m export.build " in line)
    assert "run_name=distilled-t3" in distill
    assert distill.endswith("distill.temperature=3.0")
    assert export.endswith("-m export.build model=minilm run_name=distilled-t3 ")


def test_make_teacher_gives_its_overrides_to_the_training_not_to_the_export() -> None:
    # a teacher name with no bundle, so the recipe trains and exports
    shown = dry_run("teacher", "TEACHER=teacher-under-test", "ARGS=training.max_epochs=1")
    train = next(line for line in shown.splitlines() if "-m model_training.train " in line)
    export = next(line for line in shown.splitlines() if "-m export.build " in line)
    assert train.endswith("training.max_epochs=1")
    assert export.endswith("-m export.build model=teacher-under-test run_name=teacher-under-test ")


def test_make_all_fast_evaluates_and_serves_the_run_it_trained_whatever_was_served_before(tmp_path: Path) -> None:
    served = tmp_path / "served-run"
    served.write_text("distilled-minilm\n")  # what an earlier make all leaves
    shown = dry_run("all-fast", f"SERVED_FILE={served}", "ARGS=training.max_epochs=1")
    lines = shown.splitlines()
    assert next(line for line in lines if "-m model_training.train " in line).endswith("training.max_epochs=1")
    assert next(line for line in lines if "-m export.build " in line).endswith("run_name=minilm ")
    assert "export.evaluate artifacts/bundles/minilm " in shown
    assert "api_smoke.py artifacts/bundles/minilm" in shown
    assert "distilled-minilm" not in shown
