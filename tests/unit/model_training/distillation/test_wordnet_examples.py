"""WordNet usage examples as transfer sentences: read from the database files, in CoLA's form, sampled reproducibly."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_training.distillation.wordnet_examples import (
    DATA_FILES,
    WordNetMissingError,
    as_sentence,
    sample_examples,
    usage_examples,
    wordnet_dir,
)

# Lines in the database's own format: a licence header indented by two spaces, then one synset a line, the gloss
# after " | " and its usage examples in double quotes.
VERB = """\
  1 This software and database is being provided to you, the LICENSEE, by "Princeton University" here
00017031 29 v 03 snore 0 saw_wood 0 006 * 00014742 v 0000 01 + 02 00 | breathe noisily during one's sleep; \
"she complained that her husband snores"
01053339 32 v 02 honk 0 cronk 1 003 @ 00983824 v 0000 02 + 01 00 | cry like a goose; "The geese were honking"
02000001 30 v 01 rain 0 000 | fall as rain; "it rains"; "Is it raining?"
"""
NOUN = """\
00399223 04 n 01 permutation 0 001 @ 00398704 n 0000 | a change; "the permutations...taking place in the world"
00399224 04 n 01 goose 0 000 | a bird; "the geese were honking"; "a goose -- the grey one -- flew over the lake"
"""


def database(tmp_path: Path) -> Path:
    for name in DATA_FILES:
        (tmp_path / name).write_text({"data.verb": VERB, "data.noun": NOUN}.get(name, ""))
    return tmp_path


def test_examples_get_a_capital_and_a_full_stop_and_keep_their_own_end_mark() -> None:
    assert as_sentence("the geese  were honking") == "The geese were honking."
    assert as_sentence("Is it raining?") == "Is it raining?"
    assert as_sentence("he left.") == "He left."


def test_examples_that_are_not_plain_prose_are_left_out() -> None:
    assert as_sentence("the permutations...taking place") is None
    assert as_sentence("a goose -- the grey one -- flew") is None
    assert as_sentence("[sic] a bracketed note") is None


def test_only_glosses_quotes_are_read_not_the_licence_header_each_once_in_file_order(tmp_path: Path) -> None:
    found = usage_examples(database(tmp_path), min_words=3)
    # nouns first (data.noun), the duplicate "the geese were honking" kept once, "it rains" too short.
    assert found == ["The geese were honking.", "She complained that her husband snores.", "Is it raining?"]
    assert usage_examples(database(tmp_path), min_words=5) == ["She complained that her husband snores."]


def test_the_installed_database_gives_tens_of_thousands_of_examples() -> None:
    found = usage_examples(wordnet_dir())
    assert len(found) > 30_000
    assert "The geese were honking." in found
    assert all(4 <= len(s.split()) <= 30 and not s[0].islower() and s[-1] in ".!?" for s in found)


def test_a_missing_package_or_data_file_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(WordNetMissingError, match=r"requirements/models\.txt"):
        wordnet_dir(package="no_such_wordnet_package")
    with pytest.raises(WordNetMissingError, match=r"data\.noun"):
        wordnet_dir(subdir="data/no-such-release")


def test_a_sample_is_reproducible_per_seed_and_never_holds_an_excluded_sentence() -> None:
    pool = [f"Sentence number {i}." for i in range(100)]
    first = sample_examples(pool, 10, seed=42, exclude=["sentence NUMBER 3. ", "Sentence number 7."])
    assert first == sample_examples(pool, 10, seed=42, exclude=["sentence NUMBER 3. ", "Sentence number 7."])
    assert first != sample_examples(pool, 10, seed=1)
    assert len(set(first)) == 10
    assert not {"Sentence number 3.", "Sentence number 7."} & set(first)
    assert sorted(sample_examples(pool, 98, seed=0, exclude=pool[:2])) == sorted(pool[2:])


def test_asking_for_more_examples_than_there_are_says_so() -> None:
    with pytest.raises(ValueError, match="asked for 5 WordNet examples, 3 are available"):
        sample_examples(["A.", "B.", "C.", "D."], 5, seed=0, exclude=["d."])
