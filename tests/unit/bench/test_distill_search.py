"""The distillation search: its MCC, the per-configuration summary, the follow-up grid it derives and the teacher's
features it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.distill_search import combinations, load, load_features, mcc, summarise


def result(name: str, seed: int, holdout: float, dev: float = 0.4) -> dict[str, Any]:
    return {
        "name": name,
        "seed": seed,
        "passes": 100,
        "history": [{"holdout": 0.0, "dev": 0.0}, {"holdout": holdout, "dev": dev}],
    }


def test_mcc_matches_the_textbook_formula_and_is_zero_for_a_constant_predictor() -> None:
    gold = np.array([1, 1, 1, 0, 0, 1, 0, 1])
    pred = np.array([1, 0, 1, 0, 1, 1, 0, 1])
    tp, tn, fp, fn = 4, 2, 1, 1
    expected = (tp * tn - fp * fn) / ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) ** 0.5
    assert mcc(pred, gold) == pytest.approx(expected)
    assert mcc(gold, gold) == pytest.approx(1.0)
    assert mcc(np.ones_like(gold), gold) == 0.0


def test_the_summary_ranks_configurations_by_mean_held_out_mcc_of_the_last_epoch() -> None:
    rows = summarise([result("a", 1, 0.40), result("a", 2, 0.44), result("b", 1, 0.50), result("b", 2, 0.46)])
    assert [r["name"] for r in rows] == ["b", "a"]
    assert rows[0]["holdout"] == pytest.approx(0.48)
    assert rows[0]["holdout_sd"] == pytest.approx(np.std([0.50, 0.46], ddof=1), abs=1e-4)
    assert rows[1]["runs"] == 2


def test_the_follow_up_grid_merges_only_changes_that_beat_the_recipe_better_one_winning_a_conflict() -> None:
    grid = {
        "seeds": [1],
        "configs": {"recipe": {}, "more": {"epochs": 5}, "hot": {"T": 4.0}, "cold": {"T": 1.0}, "worse": {"lr": 1.0}},
    }
    results = [result("recipe", 1, 0.40), result("more", 1, 0.45), result("hot", 1, 0.43), result("cold", 1, 0.42)]
    results.append(result("worse", 1, 0.30))
    follow_up = combinations(grid, results, top=3)["configs"]
    assert follow_up["recipe"] == {}
    assert follow_up["more+hot"] == {"epochs": 5, "T": 4.0}
    assert follow_up["hot+cold"] == {"T": 4.0}  # hot scored higher than cold
    assert follow_up["more+hot+cold"] == {"epochs": 5, "T": 4.0}
    assert not any("worse" in name for name in follow_up)


def test_teacher_features_are_read_back_per_copy_chunk_and_missing_chunks_are_nan(tmp_path: Path) -> None:
    assert load_features(tmp_path, 3) is None
    np.save(tmp_path / "features_train.npy", np.ones((2, 4), np.float16))
    np.save(tmp_path / "idx_copies_0.npy", np.array([0, 2]))
    np.save(tmp_path / "features_copies_0.npy", np.full((2, 4), 2.0, np.float16))
    np.save(tmp_path / "idx_copies_2.npy", np.array([1]))  # logits only: its features were not prepared
    loaded = load_features(tmp_path, 3)
    assert loaded is not None
    train, copies = loaded
    assert train.shape == (2, 4)
    assert (copies[[0, 2]] == 2.0).all()
    assert np.isnan(copies[1]).all()


def test_the_teachers_logits_on_wordnet_sentences_are_loaded_when_prepared(tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text('{"copies": [], "natural": ["The geese were honking."]}')
    np.save(tmp_path / "logits_train.npy", np.zeros((2, 2), np.float32))
    assert "natural_logits" not in load(tmp_path)[0]
    np.save(tmp_path / "logits_natural.npy", np.array([[-1.0, 2.0]], np.float32))
    data, train, copies = load(tmp_path)
    assert data["natural_logits"].tolist() == [[-1.0, 2.0]]
    assert train.shape == (2, 2)
    assert copies.shape == (0, 2)
