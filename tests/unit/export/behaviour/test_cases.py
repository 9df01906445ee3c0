"""The behaviour cases are generated from conf/behaviour.yaml: the same file gives the same cases, every
capability gets its count, expectations are class ids (no label names), and a config that cannot work says why."""

from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from export.behaviour.cases import DEFAULT_CONFIG, BehaviourConfigError, generate, load_config, parse_config

RAW: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG.read_text())
CONFIG = load_config()
CASES = generate(CONFIG)


def with_changes(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    raw.update(changes)
    return raw


def test_the_same_config_gives_the_same_cases() -> None:
    assert generate(load_config()) == CASES


def test_another_seed_gives_other_cases_of_the_same_capabilities() -> None:
    other = generate(parse_config(with_changes(seed=RAW["seed"] + 1)))
    assert [c.texts for c in other] != [c.texts for c in CASES]
    assert Counter(c.capability for c in other) == Counter(c.capability for c in CASES)


def test_every_capability_has_its_count_of_distinct_cases() -> None:
    counts = Counter(case.capability for case in CASES)
    assert counts == {name: RAW["cases_per_capability"] for name in RAW["capabilities"]}
    assert len({case.texts for case in CASES}) == len(CASES)


def test_a_few_hundred_cases_cover_the_three_kinds_of_test_and_the_issue_capabilities() -> None:
    assert 200 <= len(CASES) <= 1000
    assert {case.test for case in CASES} == {"mft", "invariance", "directional"}
    assert {"mft_well_formed", "mft_word_order", "mft_agreement", "mft_missing_argument"} <= set(RAW["capabilities"])
    assert {"inv_names", "inv_numbers", "inv_nouns", "dir_deletion"} <= set(RAW["capabilities"])


def test_expectations_are_class_ids_of_the_data_config_not_label_names() -> None:
    labels = yaml.safe_load((DEFAULT_CONFIG.parent / "data" / "cola.yaml").read_text())["labels"]
    assert not any(re.search(rf"\b{name}\b", DEFAULT_CONFIG.read_text(), re.IGNORECASE) for name in labels)
    expected = {case.capability: case.expect for case in CASES if case.test == "mft"}
    assert expected == {"mft_well_formed": 1, "mft_word_order": 0, "mft_agreement": 0, "mft_missing_argument": 0}
    assert {case.falls for case in CASES if case.test == "directional"} == {1}


def test_cases_are_filled_sentences() -> None:
    texts = [text for case in CASES for text in case.texts]
    assert not any("{" in text or "}" in text for text in texts)
    assert all(text[0].isupper() for text in texts)


def test_invariance_pairs_differ_in_exactly_one_word_of_the_varied_class() -> None:
    names = set(RAW["lexicon"]["name"])
    for case in (c for c in CASES if c.capability == "inv_names"):
        first, second = (text.rstrip(".").split() for text in case.texts)
        changed = [(a, b) for a, b in zip(first, second, strict=True) if a != b]
        assert len(changed) == 1, case
        assert set(changed[0]) <= names, case


def test_directional_pairs_delete_words_from_the_first_sentence() -> None:
    for case in (c for c in CASES if c.test == "directional"):
        whole, broken = (Counter(text.rstrip(".").split()) for text in case.texts)
        assert not broken - whole, case
        assert sum(whole.values()) > sum(broken.values()), case


def test_too_small_a_lexicon_for_the_count_is_refused_with_what_to_change() -> None:
    two_names = {"test": "mft", "expect": 1, "templates": ["{name} left."]}  # two distinct sentences at most
    raw = with_changes(lexicon={"name": ["John", "Mary"]}, capabilities={"left": two_names}, cases_per_capability=3)
    with pytest.raises(BehaviourConfigError, match=r"only 2 distinct cases .* add templates or words, or lower"):
        generate(parse_config(raw))


@pytest.mark.parametrize(
    ("capability", "change", "message"),
    [
        ("mft_agreement", {"expect": "unacceptable"}, "expect must be a class id"),
        ("mft_agreement", {"expect": None}, "expect is required for mft"),
        ("inv_names", {"expect": 1}, "expect is only for mft"),
        ("dir_deletion", {"templates": ["{name} left."]}, r"\[sentence, sentence with a word deleted\]"),
        ("inv_names", {"vary": "colour"}, "vary must name a lexicon class"),
        ("mft_well_formed", {"templates": ["{nme} left."]}, "unknown word class 'nme'"),
        ("mft_well_formed", {"templates": ["{thing} left."]}, "needs a form"),
        ("mft_well_formed", {"templates": ["{name.sg} left."]}, "has no form 'sg'"),
        ("mft_well_formed", {"templates": ["{name left."]}, "malformed slot"),
        ("mft_well_formed", {"test": "checklist"}, "test must be one of mft, invariance, directional"),
    ],
)
def test_a_broken_capability_is_refused_naming_its_key(capability: str, change: dict[str, Any], message: str) -> None:
    raw = copy.deepcopy(RAW)
    raw["capabilities"][capability].update(change)
    with pytest.raises(BehaviourConfigError, match=message) as caught:
        parse_config(raw)
    assert f"capabilities.{capability}" in str(caught.value)


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BehaviourConfigError, match="does not exist"):
        load_config(tmp_path / "behaviour.yaml")
