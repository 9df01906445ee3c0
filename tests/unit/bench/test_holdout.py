"""The held-out protocol: a fixed split of the training file, the overrides that use it, the table of runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import holdout


def training_file(tmp_path: Path, rows: int = 50) -> Path:
    path = tmp_path / "in_domain_train.tsv"
    path.write_text("".join(f"src\t{i % 2}\t\tSentence number {i}.\n" for i in range(rows)))
    return path


def test_the_split_keeps_every_row_once_and_holds_out_the_same_rows_each_time(tmp_path: Path) -> None:
    source = training_file(tmp_path)
    kept, held = holdout.split(tmp_path / "a", source, holdout=10)
    again_kept, again_held = holdout.split(tmp_path / "b", source, holdout=10)
    kept_rows, held_rows = kept.read_text().splitlines(), held.read_text().splitlines()
    assert len(held_rows) == 10
    assert sorted(kept_rows + held_rows) == sorted(source.read_text().splitlines())
    assert (kept.read_text(), held.read_text()) == (again_kept.read_text(), again_held.read_text())


def test_the_distillation_search_holds_out_the_same_sentences() -> None:
    mask = holdout.held_out_mask(8551)
    assert mask.sum() == 1000
    assert holdout.held_out_mask(8551).tolist() == mask.tolist()


@pytest.mark.parametrize("size", [0, 50])
def test_a_held_out_set_must_leave_rows_on_both_sides(size: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 49"):
        holdout.held_out_mask(50, size)


def test_the_overrides_validate_on_the_held_out_rows_and_score_dev_at_the_end(tmp_path: Path) -> None:
    holdout.split(tmp_path, training_file(tmp_path), holdout=10)
    args = holdout.hydra_args(tmp_path).split()
    assert args == [
        f"data.train_file={tmp_path.resolve() / 'train.tsv'}",
        f"data.validation_file={tmp_path.resolve() / 'heldout.tsv'}",
        f"+data.extra_eval_files.dev={holdout.DEV_FILE}",
    ]


def test_overrides_for_a_missing_split_say_how_to_make_it(tmp_path: Path) -> None:
    assert holdout.main(["args", str(tmp_path)]) == 2
    with pytest.raises(FileNotFoundError, match=r"python -m bench\.holdout split"):
        holdout.hydra_args(tmp_path)


TEACHER = {"run_name": "mpnet", "model_version": "m-abc", "metrics": {"eval": {"dev": {"mcc": 0.6012}}}}


def finished_run(runs: Path, name: str, init: str | None, dev: float | None = 0.38) -> Path:
    run = runs / name
    run.mkdir(parents=True)
    evaluated = {"validation": {"mcc": 0.45}} | ({"dev": {"mcc": dev}} if dev is not None else {})
    metrics = {
        "config": {"seed": 7, "model": {"path": None}, "data": {"group_by_length": True}},
        "model": {"name": "minilm"},
        "distillation": {"student_init": {"run_name": init}, "teacher": TEACHER, "temperature": 3.0} if init else {},
        "timing": {"epochs": 2, "train_seconds": 600.0},
        "history": [{"val/mcc": 0.40}, {"val/mcc": 0.45}],
        "best": {"epoch": 1},
        "eval": evaluated,
        "machine": {"cpu": {"model": "Test CPU"}, "torch": {"cpu_capability": "AVX512"}, "fingerprint": "fp-x"},
    }
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def test_the_report_shows_held_out_choice_and_dev_beside_it(tmp_path: Path) -> None:
    plain = finished_run(tmp_path, "minilm-h", None)
    student = finished_run(tmp_path, "distilled-h", "minilm-h")
    out = tmp_path / "results" / "holdout"
    assert holdout.main(["report", str(plain), str(student), "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())
    assert [(r["run"], r["distilled"], r["teacher"], r["student_init"]) for r in rows] == [
        ("minilm-h", False, None, None),
        ("distilled-h", True, "mpnet (m-abc, dev 0.601)", "minilm-h"),
    ]
    table = out.with_suffix(".md").read_text()
    assert "| minilm-h | minilm | none (gold labels) | - | pretrained |" in table
    row = (
        "| distilled-h | minilm | mpnet (m-abc, dev 0.601) | 3 | minilm-h | length-grouped | 7 | 0.400, 0.450 | 2 "
        "| **0.4500** | 0.3800 | 10.0 |"
    )
    assert row in table


def test_a_run_without_a_dev_score_is_refused(tmp_path: Path) -> None:
    run = finished_run(tmp_path, "minilm", None, dev=None)
    assert holdout.main(["report", str(run), "--out", str(tmp_path / "r")]) == 2


def test_append_keeps_earlier_rows_and_replaces_a_rerun_in_place(tmp_path: Path) -> None:
    out = tmp_path / "results" / "holdout"
    first = [finished_run(tmp_path / "a", name, None) for name in ("minilm-h", "distilled-h")]
    assert holdout.main(["report", *map(str, first), "--out", str(out)]) == 0
    rerun = finished_run(tmp_path / "b", "minilm-h", None, dev=0.41)
    new = finished_run(tmp_path / "b", "distilled-g3-h", "minilm-h")
    assert holdout.main(["report", str(new), str(rerun), "--out", str(out), "--append"]) == 0

    rows = json.loads(out.with_suffix(".json").read_text())
    assert [(r["run"], r["dev_mcc"]) for r in rows] == [
        ("minilm-h", 0.41),
        ("distilled-h", 0.38),
        ("distilled-g3-h", 0.38),
    ]
    assert "| distilled-g3-h |" in out.with_suffix(".md").read_text()


def test_without_append_the_report_is_only_the_runs_given(tmp_path: Path) -> None:
    out = tmp_path / "holdout"
    assert holdout.main(["report", str(finished_run(tmp_path, "minilm-h", None)), "--out", str(out)]) == 0
    assert holdout.main(["report", str(finished_run(tmp_path, "distilled-h", "minilm-h")), "--out", str(out)]) == 0
    assert [r["run"] for r in json.loads(out.with_suffix(".json").read_text())] == ["distilled-h"]


def test_append_to_a_file_that_is_not_a_held_out_report_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "holdout"
    out.with_suffix(".json").write_text('{"runs": []}')
    run = finished_run(tmp_path, "minilm-h", None)
    assert holdout.main(["report", str(run), "--out", str(out), "--append"]) == 2
    assert "is not a held-out report (a JSON list of runs)" in capsys.readouterr().err
    assert out.with_suffix(".json").read_text() == '{"runs": []}'  # left as it was
