"""Checks on the CoLA files shipped in data/cola: pinned content, schema and basic hygiene."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from model_training.data.cola import ColaRow, read_cola_tsv, sha256_file

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "cola"
RAW_DIR = DATA_DIR / "raw"

# file name -> (rows, label-1 rows, sha256); the same table as data/cola/SOURCE.md
SHIPPED = {
    "in_domain_train.tsv": (8551, 6023, "f320a10f92d3bce6b29152fde322a362eac39238e50d8de0c8815457fdf4fc12"),
    "in_domain_dev.tsv": (527, 365, "77176f6a03faa5a1c4f23c69971fc1bff565931112fb65af47b2d6e24b7f42f7"),
}


@pytest.fixture(scope="module", params=sorted(SHIPPED))
def shipped(request: pytest.FixtureRequest) -> tuple[str, list[ColaRow]]:
    name = request.param
    return name, read_cola_tsv(RAW_DIR / name)


def test_sha256_matches_the_pinned_release(shipped: tuple[str, list[ColaRow]]) -> None:
    name, _ = shipped
    assert sha256_file(RAW_DIR / name) == SHIPPED[name][2]


def test_row_and_label_counts_match_the_release(shipped: tuple[str, list[ColaRow]]) -> None:
    name, rows = shipped
    expected_rows, expected_positive, _ = SHIPPED[name]
    labels = Counter(row.label for row in rows)
    assert len(rows) == expected_rows
    assert labels[1] == expected_positive
    assert labels[0] == expected_rows - expected_positive


def test_every_row_follows_the_schema(shipped: tuple[str, list[ColaRow]]) -> None:
    _, rows = shipped
    assert all(isinstance(row, ColaRow) for row in rows)
    assert {row.label for row in rows} == {0, 1}
    assert all(row.source for row in rows), "every row names its source publication"
    assert all(row.sentence.strip() for row in rows), "no empty sentence"
    assert all(row.sentence == row.sentence.strip() for row in rows), "no padding around sentences"


def test_marks_are_empty_for_acceptable_sentences_in_dev() -> None:
    rows = read_cola_tsv(RAW_DIR / "in_domain_dev.tsv")
    assert all(row.mark == "" for row in rows if row.label == 1)
    assert all(row.mark for row in rows if row.label == 0)


def test_no_duplicate_sentence_within_dev() -> None:
    rows = read_cola_tsv(RAW_DIR / "in_domain_dev.tsv")
    duplicates = [s for s, n in Counter(row.sentence for row in rows).items() if n > 1]
    assert duplicates == []


def test_dataset_readme_and_source_note_travel_with_the_data() -> None:
    readme = DATA_DIR / "README"
    assert readme.is_file()
    assert "Corpus of Linguistic Acceptability" in readme.read_text(encoding="utf-8")
    source = (DATA_DIR / "SOURCE.md").read_text(encoding="utf-8")
    for name, (_, _, digest) in SHIPPED.items():
        assert name in source
        assert digest in source


def test_held_out_test_file_is_not_shipped() -> None:
    assert not (RAW_DIR / "out_of_domain_dev.tsv").exists()
