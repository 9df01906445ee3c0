"""Which engine computes the teacher's logits (model_training.distillation.teacher_engine), and the parity check
that lets the fast one stand in for the bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_training.distillation.teacher_engine import EngineSettings, choose_engine, parity, sample_rows

AMX = ["avx512f", "amx_bf16", "amx_int8"]
NO_AMX = ["avx2", "avx512f", "avx512_bf16"]


@pytest.fixture
def run_model(tmp_path: Path) -> Path:
    """A directory that looks like a saved transformers model."""
    (tmp_path / "config.json").write_text("{}")
    return tmp_path


def test_onnx_is_the_bundle_whatever_the_cpu(run_model: Path) -> None:
    choice = choose_engine(EngineSettings(engine="onnx", model_dir=run_model), AMX)

    assert choice.engine == "onnx"


def test_auto_picks_bf16_on_an_amx_cpu_with_the_teacher_run_at_hand(run_model: Path) -> None:
    choice = choose_engine(EngineSettings(engine="auto", model_dir=run_model), AMX)

    assert choice.engine == "torch_bf16"
    assert "amx_bf16" in choice.reason


def test_auto_keeps_the_bundle_on_a_cpu_without_amx(run_model: Path) -> None:
    choice = choose_engine(EngineSettings(engine="auto", model_dir=run_model), NO_AMX)

    assert choice.engine == "onnx"
    assert "no amx_bf16" in choice.reason


@pytest.mark.parametrize("model_dir", [None, Path("/nonexistent/model")])
def test_auto_keeps_the_bundle_when_only_the_bundle_is_here(model_dir: Path | None) -> None:
    choice = choose_engine(EngineSettings(engine="auto", model_dir=model_dir), AMX)

    assert choice.engine == "onnx"
    assert "pulled bundle" in choice.reason


def test_torch_bf16_asked_for_without_the_run_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"make teacher-train.*engine=onnx"):
        choose_engine(EngineSettings(engine="torch_bf16", model_dir=tmp_path), AMX)


def test_torch_bf16_asked_for_runs_even_without_amx(run_model: Path) -> None:
    assert choose_engine(EngineSettings(engine="torch_bf16", model_dir=run_model), NO_AMX).engine == "torch_bf16"


def test_an_unknown_engine_is_refused(run_model: Path) -> None:
    with pytest.raises(ValueError, match="auto, onnx, torch_bf16, torch_fp32"):
        choose_engine(EngineSettings(engine="fp16", model_dir=run_model), AMX)


def test_parity_measures_the_largest_and_mean_difference_and_the_agreement() -> None:
    reference = np.array([[1.0, -1.0], [0.0, 2.0], [0.5, 0.4], [-3.0, 3.0]], dtype=np.float32)
    candidate = reference + np.array([[0.1, 0.0], [0.0, -0.2], [-0.2, 0.0], [0.0, 0.0]], dtype=np.float32)

    checked = parity(candidate, reference)

    assert checked.n == 4
    assert checked.max_abs_diff == pytest.approx(0.2)
    assert checked.mean_abs_diff == pytest.approx(0.5 / 8)
    assert checked.agreement == 0.75  # row 3 flips: 0.3 < 0.4


def test_parity_passes_only_within_every_tolerance() -> None:
    reference = np.zeros((200, 2), dtype=np.float32)
    reference[:, 1] = 1.0
    reference[:3, 1] = 0.1  # three near ties
    settings = EngineSettings(max_abs_diff=0.5, max_mean_abs_diff=0.02, min_agreement=0.99)
    one_outlier = reference.copy()
    one_outlier[-1] = [0.0, 1.4]  # 0.4 off, same verdict
    three_flips = reference.copy()
    three_flips[:3] = [0.1, 0.0]  # 0.1 off, but the three ties tip the other way: agreement 0.985

    assert parity(reference + 0.01, reference).passes(settings)
    assert parity(one_outlier, reference).passes(settings)  # a rare large difference is bf16's rounding
    assert not parity(reference + 0.03, reference).passes(settings)  # too far on average, all agree
    assert not parity(three_flips, reference).passes(settings)  # verdicts flip
    far_outlier = reference.copy()
    far_outlier[-1] = [0.6, 1.0]  # same verdict, but 0.6 off: more than rounding
    assert not parity(far_outlier, reference).passes(settings)


def test_parity_refuses_arrays_of_different_shapes() -> None:
    with pytest.raises(ValueError, match="equal"):
        parity(np.zeros((3, 2)), np.zeros((4, 2)))


def test_the_parity_sample_is_fixed_sorted_and_within_range() -> None:
    rows = sample_rows(10_000, 512)

    assert rows == sample_rows(10_000, 512)
    assert rows == sorted(set(rows))
    assert len(rows) == 512
    assert rows[0] >= 0
    assert rows[-1] < 10_000
    assert sample_rows(5, 512) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("flags", "engine"), [(AMX, "torch_bf16"), (NO_AMX, "torch_fp32")])
def test_features_need_the_run_in_torch_bf16_where_amx_pays_fp32_elsewhere(
    run_model: Path, flags: list[str], engine: str
) -> None:
    choice = choose_engine(EngineSettings(engine="auto", model_dir=run_model, features=True), flags)

    assert choice.engine == engine
    assert "features" in choice.reason


def test_features_without_the_teacher_run_say_how_to_get_them_or_do_without(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"make teacher-train.*distill\.feature_weight=0"):
        choose_engine(EngineSettings(engine="auto", model_dir=tmp_path, features=True), AMX)


def test_features_cannot_come_from_the_bundles_onnx_graph(run_model: Path) -> None:
    with pytest.raises(ValueError, match="logits only"):
        choose_engine(EngineSettings(engine="onnx", model_dir=run_model, features=True), AMX)


def test_a_torch_engine_asked_for_with_features_is_kept(run_model: Path) -> None:
    choice = choose_engine(EngineSettings(engine="torch_fp32", model_dir=run_model, features=True), AMX)

    assert choice.engine == "torch_fp32"
