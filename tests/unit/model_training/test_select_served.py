"""Which run `make all` serves: the distilled student only when it beats the plain student on dev MCC, both
trained on the same machine fingerprint (a figure recorded on another CPU is no yardstick)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_training.select_served import NO_COMPARABLE_PLAIN, NotComparableError, choose, main

HERE, ELSEWHERE = "fp-000000000001", "fp-000000000002"
ARGS = ["--student", "distilled-minilm", "--plain", "minilm"]


def write_run(runs: Path, name: str, mcc: float, fingerprint: str | None = HERE) -> None:
    (runs / name).mkdir(parents=True)
    machine = {"fingerprint": fingerprint} if fingerprint else None
    (runs / name / "metrics.json").write_text(json.dumps({"best": {"val_mcc": mcc}, "machine": machine}))


def test_the_student_is_served_when_it_beats_the_plain_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path, "distilled-minilm", 0.45)
    write_run(tmp_path, "minilm", 0.40)
    assert main(["--runs-dir", str(tmp_path), *ARGS]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "distilled-minilm"
    assert f"both trained on {HERE}" in out.err


def test_a_tie_or_a_loss_serves_the_plain_student(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path, "distilled-minilm", 0.40)
    write_run(tmp_path, "minilm", 0.40)
    assert main(["--runs-dir", str(tmp_path), *ARGS]) == 0
    assert capsys.readouterr().out.strip() == "minilm"


@pytest.mark.parametrize(
    "plain_fingerprint",
    [pytest.param(ELSEWHERE, id="other-machine"), pytest.param(None, id="unrecorded-machine")],
)
def test_a_plain_run_from_another_machine_is_not_a_yardstick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plain_fingerprint: str | None
) -> None:
    write_run(tmp_path, "distilled-minilm", 0.30)
    write_run(tmp_path, "minilm", 0.60, fingerprint=plain_fingerprint)
    with pytest.raises(NotComparableError, match="not comparable"):
        choose(tmp_path, "distilled-minilm", "minilm")
    assert main(["--runs-dir", str(tmp_path), *ARGS]) == NO_COMPARABLE_PLAIN
    out = capsys.readouterr()
    assert out.out == ""  # nothing for make to write into artifacts/served-run
    assert "train it here: make train" in out.err


def test_check_plain_says_whether_the_plain_run_must_be_trained_first(tmp_path: Path) -> None:
    write_run(tmp_path, "distilled-minilm", 0.45)
    assert main(["--runs-dir", str(tmp_path), "--check-plain", *ARGS]) == NO_COMPARABLE_PLAIN  # no plain run
    write_run(tmp_path, "minilm", 0.40)
    assert main(["--runs-dir", str(tmp_path), "--check-plain", *ARGS]) == 0


def test_an_unfinished_student_is_an_error_that_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--runs-dir", str(tmp_path), *ARGS]) == 2
    assert "did not finish" in capsys.readouterr().err
