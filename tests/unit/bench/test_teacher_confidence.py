"""bench.teacher_confidence: the margin and the top-class probability per temperature, from a teacher-logits cache
file as `make distill` writes it; anything else is refused with what to do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.teacher_confidence import confidence, main


def cache_file(path: Path, logits: list[list[float]], run: str = "mpnet", mcc: float = 0.658) -> Path:
    provenance = {"run_name": run, "model_version": "m-db79d8ae8b62", "metrics": {"best": {"epoch": 3, "val_mcc": mcc}}}
    np.savez(path, logits=np.array(logits, dtype=np.float32), provenance=json.dumps(provenance))
    return path


def test_margin_and_top_probability_follow_the_softmax_at_each_temperature() -> None:
    margin, top = confidence(np.array([[0.0, 2.0], [1.0, -1.0]]), [1.0, 2.0])
    assert margin == pytest.approx(2.0)
    assert top["1"] == pytest.approx(np.exp(2) / (1 + np.exp(2)))  # softmax of (0, 2): both rows have margin 2
    assert top["2"] == pytest.approx(np.exp(1) / (1 + np.exp(1)))


def test_a_higher_temperature_softens_the_same_logits() -> None:
    _, top = confidence(np.array([[0.0, 3.0], [2.5, 0.0]]), [1.0, 2.0, 3.0])
    assert top["1"] > top["2"] > top["3"] > 0.5


def test_the_report_names_each_teacher(tmp_path: Path) -> None:
    strong = cache_file(tmp_path / "strong.npz", [[0.0, 3.0], [3.0, 0.0]])
    weak = cache_file(tmp_path / "weak.npz", [[0.0, 1.0], [1.0, 0.0]], run="mpnet-e2", mcc=0.594)
    out = tmp_path / "results" / "teacher_confidence"
    assert main([str(strong), str(weak), "--temperatures", "1,3", "--out", str(out)]) == 0

    results = json.loads(out.with_suffix(".json").read_text())
    rows = {row["teacher_run"]: row for row in results["teachers"]}
    assert rows["mpnet"]["mean_margin"] == pytest.approx(3.0)
    assert rows["mpnet-e2"]["teacher_mcc"] == pytest.approx(0.594)
    # the strong teacher at T = 3 is exactly as sharp as the weak one at T = 1 (margins 3 and 1)
    assert rows["mpnet"]["mean_top_probability"]["3"] == pytest.approx(rows["mpnet-e2"]["mean_top_probability"]["1"])
    report = out.with_suffix(".md").read_text()
    assert "| mpnet | m-db79d8ae8b62 | 0.6580 | 2 | 3.000 |" in report
    assert "--temperatures 1,3" in report


def test_a_file_that_is_not_a_cache_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    assert main([str(other), "--out", str(tmp_path / "out")]) == 2
    assert "is not a teacher-logits cache" in capsys.readouterr().err


def test_logits_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        confidence(np.zeros((3, 3)), [1.0])


@pytest.mark.parametrize("temperatures", ["0,1", "two"])
def test_bad_temperatures_are_refused(tmp_path: Path, temperatures: str) -> None:
    with pytest.raises(SystemExit):
        main([str(cache_file(tmp_path / "t.npz", [[0.0, 1.0]])), "--temperatures", temperatures])


def test_a_missing_file_says_where_caches_come_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([str(tmp_path / "absent.npz")])
    assert "make distill writes them" in capsys.readouterr().err
