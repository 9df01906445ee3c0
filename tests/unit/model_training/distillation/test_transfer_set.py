"""The transfer set: reproducible perturbed copies, never an original or a duplicate."""

from __future__ import annotations

import random

import pytest

from model_training.distillation.transfer_set import (
    PERTURBATIONS,
    Substitution,
    perturb,
    sentences_sha256,
    substitute_neighbours,
    transfer_copies,
    transfer_sentences,
)

SENTENCES = [
    "The cat sat on the mat.",
    "John gave Mary a book yesterday.",
    "Which book did you say that Bill read?",
    "Hi there.",
]


def test_copies_are_reproducible_for_a_seed_and_change_with_it() -> None:
    ops = list(PERTURBATIONS)
    first = transfer_sentences(SENTENCES, 3, ops, seed=7)
    assert first == transfer_sentences(SENTENCES, 3, ops, seed=7)
    assert first != transfer_sentences(SENTENCES, 3, ops, seed=8)


def test_each_copy_names_the_sentence_it_came_from_and_its_copy_number() -> None:
    copies = transfer_copies(SENTENCES, 3, list(PERTURBATIONS), seed=7)
    assert [c.text for c in copies] == transfer_sentences(SENTENCES, 3, list(PERTURBATIONS), seed=7)
    for c in copies:
        assert 0 <= c.copy < 3
        original, damaged = SENTENCES[c.source].split(), c.text.split()
        assert abs(len(original) - len(damaged)) <= 1  # one word dropped, duplicated or none: same sentence
        assert len(set(original) & set(damaged)) >= len(original) - 2
    assert 3 not in {c.source for c in copies}  # "Hi there." is too short to perturb


def test_no_copy_is_an_original_or_a_duplicate() -> None:
    copies = transfer_sentences(SENTENCES * 2, 5, list(PERTURBATIONS), seed=0)
    assert not set(copies) & set(SENTENCES)
    assert len(copies) == len(set(copies))


def test_sentences_under_three_words_are_left_alone() -> None:
    copies = transfer_sentences(["Hi there."], 4, list(PERTURBATIONS), seed=0)
    assert copies == []


@pytest.mark.parametrize(
    ("operation", "check"),
    [
        ("drop", lambda orig, new: len(new) == len(orig) - 1),
        ("duplicate", lambda orig, new: len(new) == len(orig) + 1),
        ("swap", lambda orig, new: sorted(new) == sorted(orig) and new != orig),
        ("move", lambda orig, new: sorted(new) == sorted(orig)),
        (
            "replace",
            lambda orig, new: len(new) == len(orig) and sum(a != b for a, b in zip(orig, new, strict=False)) <= 1,
        ),
    ],
)
def test_each_operation_does_what_its_name_says(operation: str, check) -> None:  # type: ignore[no-untyped-def]
    sentence = "John gave Mary a red book yesterday."
    for seed in range(20):
        copy = perturb(sentence, operation, random.Random(seed), ["apple", "run"])
        if copy is not None:
            assert check(sentence.split(), copy.split()), (operation, copy)


def test_copies_per_sentence_bounds_the_set() -> None:
    copies = transfer_sentences(SENTENCES, 2, ["drop", "swap"], seed=0)
    assert 0 < len(copies) <= 2 * len(SENTENCES)


def test_unknown_operations_and_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown perturbation"):
        transfer_sentences(SENTENCES, 1, ["shuffle-all"], seed=0)
    with pytest.raises(ValueError, match=">= 0"):
        transfer_sentences(SENTENCES, -1, ["drop"], seed=0)


def test_the_hash_depends_on_content_and_order() -> None:
    assert sentences_sha256(["a", "b"]) != sentences_sha256(["b", "a"])
    assert sentences_sha256(["ab"]) != sentences_sha256(["a", "b"])


NEIGHBOURS = {"john": ("bill", "johns"), "gave": ("give", "handed"), "book": ("books",), "i": ("we",)}


def test_substitution_swaps_words_for_their_neighbours_keeping_punctuation_and_capitals() -> None:
    sentence = "John gave Mary a book."
    for seed in range(30):
        words = substitute_neighbours(sentence.split(), random.Random(seed), NEIGHBOURS, probability=0.5)
        assert words != sentence.split()  # at least one word swapped, whatever the draw
        assert words[0] in {"John", "Bill", "Johns"}
        assert words[1] in {"gave", "give", "handed"}
        assert words[2:4] == ["Mary", "a"]
        assert words[4] in {"book.", "books."}


def test_the_pronoun_i_stays_capitalised_and_a_neighbour_inside_the_sentence_does_not_become_one() -> None:
    assert substitute_neighbours(["so", "I", "left"], random.Random(0), {"i": ("we",)}, 1.0) == ["so", "we", "left"]
    assert substitute_neighbours(["so", "we", "left"], random.Random(0), {"we": ("i",)}, 1.0) == ["so", "I", "left"]


def test_a_sentence_without_known_words_is_returned_unchanged() -> None:
    words = ["Xyz", "qq", "zz."]
    assert substitute_neighbours(words, random.Random(0), NEIGHBOURS, 1.0) == words


def test_substitution_copies_follow_the_damaged_ones_which_they_leave_unchanged() -> None:
    ops = list(PERTURBATIONS)
    substitution = Substitution(NEIGHBOURS, copies_per_sentence=2, probability=0.5)
    plain = transfer_copies(SENTENCES, 2, ops, seed=3)
    mixed = transfer_copies(SENTENCES, 2, ops, seed=3, substitution=substitution)
    assert [c for c in mixed if c.copy < 2] == plain
    added = [c for c in mixed if c.copy >= 2]
    assert added
    assert {c.copy for c in added} <= {2, 3}
    assert {c.source for c in added} == {1, 2}  # the sentences with a word that has neighbours
    assert mixed == transfer_copies(SENTENCES, 2, ops, seed=3, substitution=substitution)
    assert not {c.text for c in mixed} & set(SENTENCES)


@pytest.mark.parametrize(
    ("copies", "probability", "match"), [(-1, 0.3, ">= 0"), (1, 0.0, "probability"), (1, 1.5, "probability")]
)
def test_substitution_settings_out_of_range_are_refused(copies: int, probability: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Substitution(NEIGHBOURS, copies, probability)
