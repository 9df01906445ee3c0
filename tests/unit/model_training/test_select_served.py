"""Which run `make all` serves: the distilled student only when it beats the plain student on dev MCC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_training.select_served import PLAIN_WINS, choose, main


def write_run(runs: Path, name: str, mcc: float) -> None:
    (runs / name).mkdir(parents=True)
    (runs / name / "metrics.json").write_text(json.dumps({"best": {"val_mcc": mcc}}))


def test_the_student_is_served_when_it_beats_the_plain_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path, "distilled-minilm", 0.45)
    write_run(tmp_path, "minilm", 0.40)
    code = main(["--runs-dir", str(tmp_path), "--student", "distilled-minilm", "--plain", "minilm"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "distilled-minilm"


def test_a_tie_or_a_loss_serves_the_plain_student(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path, "distilled-minilm", 0.40)
    write_run(tmp_path, "minilm", 0.40)
    code = main(["--runs-dir", str(tmp_path), "--student", "distilled-minilm", "--plain", "minilm"])
    assert code == PLAIN_WINS
    assert capsys.readouterr().out.strip() == "minilm"


def test_without_a_plain_run_the_reference_figure_is_the_bar(tmp_path: Path) -> None:
    write_run(tmp_path, "distilled-minilm", 0.42)
    assert choose(tmp_path, "distilled-minilm", "minilm", 0.4036).run == "distilled-minilm"
    assert choose(tmp_path, "distilled-minilm", "minilm", 0.43).run == "minilm"
    assert "reference" in choose(tmp_path, "distilled-minilm", "minilm", 0.43).plain_source


def test_a_plain_run_wins_over_the_reference(tmp_path: Path) -> None:
    write_run(tmp_path, "distilled-minilm", 0.42)
    write_run(tmp_path, "minilm", 0.44)
    assert choose(tmp_path, "distilled-minilm", "minilm", 0.30).run == "minilm"


def test_an_unfinished_student_is_an_error_that_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--runs-dir", str(tmp_path), "--student", "distilled-minilm", "--plain", "minilm"])
    assert code == 2
    assert "did not finish" in capsys.readouterr().err


def test_the_default_reference_comes_from_conf_distill(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path, "distilled-minilm", 0.41)  # above conf/distill's 0.4036
    assert main(["--runs-dir", str(tmp_path), "--student", "distilled-minilm", "--plain", "minilm"]) == 0
    assert "reference" in capsys.readouterr().err
