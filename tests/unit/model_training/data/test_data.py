"""Specification of CoLA data loading: the TSV reader, the HF `datasets` loader and split assembly."""

from __future__ import annotations

import re
from pathlib import Path

import datasets
import pytest

from model_training.data.cola import (
    ColaRow,
    DataValidationError,
    load_local_split,
    load_splits,
    read_cola_tsv,
)

VALID_LINES = [
    "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.",
    'cj99\t0\t*\tShe said "go home" to him yesterday.',
    "bc01\t1\t\tThe last line has no trailing newline.",
]


def write_tsv(path: Path, lines: list[str], trailing_newline: bool = True) -> Path:
    path.write_text("\n".join(lines) + ("\n" if trailing_newline else ""), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def isolated_datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the `datasets` csv builder's cache inside the test's tmp_path."""
    cache = tmp_path / "hf_datasets_cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache


@pytest.fixture
def valid_tsv(tmp_path: Path) -> Path:
    return write_tsv(tmp_path / "valid.tsv", VALID_LINES, trailing_newline=False)


class TestReadColaTsv:
    def test_valid_file_parses_every_row_including_quotes_and_unterminated_last_line(self, valid_tsv: Path) -> None:
        rows = read_cola_tsv(valid_tsv)

        assert rows == [
            ColaRow(source="gj04", label=1, mark="", sentence="The sailors rode the breeze clear of the rocks."),
            ColaRow(source="cj99", label=0, mark="*", sentence='She said "go home" to him yesterday.'),
            ColaRow(source="bc01", label=1, mark="", sentence="The last line has no trailing newline."),
        ]

    def test_accepts_a_string_path(self, valid_tsv: Path) -> None:
        assert len(read_cola_tsv(str(valid_tsv))) == len(VALID_LINES)

    @pytest.mark.parametrize(
        ("bad_line", "found"),
        [
            pytest.param("gj04\t1\tThe mark column is missing.", 3, id="3-columns"),
            pytest.param("gj04\t1\t\tA sentence.\textra", 5, id="5-columns"),
        ],
    )
    def test_wrong_column_count_names_file_line_and_count(self, tmp_path: Path, bad_line: str, found: int) -> None:
        path = write_tsv(tmp_path / "columns.tsv", [VALID_LINES[0], bad_line, VALID_LINES[2]])

        with pytest.raises(DataValidationError) as excinfo:
            read_cola_tsv(path)

        message = str(excinfo.value)
        assert f"{path}:2:" in message
        assert "expected 4 tab-separated columns" in message
        assert f"found {found}" in message

    @pytest.mark.parametrize("label", ["2", "x", "", "-1", " 1", "1.0"])
    def test_label_outside_0_1_names_file_and_line(self, tmp_path: Path, label: str) -> None:
        path = write_tsv(tmp_path / "labels.tsv", [*VALID_LINES[:2], f"gj04\t{label}\t\tA fine sentence."])

        with pytest.raises(DataValidationError) as excinfo:
            read_cola_tsv(path)

        message = str(excinfo.value)
        assert f"{path}:3:" in message
        assert "label must be 0 or 1" in message
        assert repr(label) in message

    @pytest.mark.parametrize("sentence", ["", " ", "   "], ids=["empty", "one-space", "spaces"])
    def test_empty_or_whitespace_sentence_names_file_and_line(self, tmp_path: Path, sentence: str) -> None:
        path = write_tsv(tmp_path / "empty_sentence.tsv", [VALID_LINES[0], f"gj04\t1\t\t{sentence}"])

        with pytest.raises(DataValidationError) as excinfo:
            read_cola_tsv(path)

        message = str(excinfo.value)
        assert f"{path}:2:" in message
        assert "sentence is empty" in message

    def test_empty_file_is_rejected_with_its_path(self, tmp_path: Path) -> None:
        path = tmp_path / "empty.tsv"
        path.write_bytes(b"")

        with pytest.raises(DataValidationError, match="file is empty") as excinfo:
            read_cola_tsv(path)

        assert str(path) in str(excinfo.value)

    def test_missing_file_is_rejected_with_its_path(self, tmp_path: Path) -> None:
        path = tmp_path / "does_not_exist.tsv"

        with pytest.raises(DataValidationError, match="file not found") as excinfo:
            read_cola_tsv(path)

        assert str(path) in str(excinfo.value)

    def test_directory_is_not_a_file(self, tmp_path: Path) -> None:
        with pytest.raises(DataValidationError, match="file not found"):
            read_cola_tsv(tmp_path)

    def test_non_utf8_bytes_are_rejected_with_path_and_byte_offset(self, tmp_path: Path) -> None:
        path = tmp_path / "latin1.tsv"
        path.write_bytes("gj04\t1\t\tA caf\u00e9 sentence.\n".encode("latin-1"))

        with pytest.raises(DataValidationError, match="not valid UTF-8") as excinfo:
            read_cola_tsv(path)

        message = str(excinfo.value)
        assert str(path) in message
        assert "at byte" in message


class TestLoadLocalSplit:
    def test_returns_sentence_and_label_for_every_row(self, valid_tsv: Path) -> None:
        split = load_local_split(valid_tsv)

        assert split.column_names == ["sentence", "label"]
        assert split["sentence"] == [row.split("\t")[3] for row in VALID_LINES]
        assert split["label"] == [1, 0, 1]

    @pytest.mark.parametrize(
        "sentence",
        [
            pytest.param('He said "hi', id="unbalanced-quote"),
            pytest.param("NA", id="NA"),
            pytest.param("null", id="null"),
            pytest.param("N/A", id="N/A"),
            pytest.param("nan", id="nan"),
        ],
    )
    def test_keeps_sentences_that_csv_parsers_like_to_mangle(self, tmp_path: Path, sentence: str) -> None:
        lines = [VALID_LINES[0], f"xx01\t0\t*\t{sentence}", VALID_LINES[2]]
        path = write_tsv(tmp_path / "tricky.tsv", lines)

        split = load_local_split(path)

        assert len(split) == 3
        assert split[1] == {"sentence": sentence, "label": 0}
        assert split["sentence"][2] == VALID_LINES[2].split("\t")[3]

    def test_an_unbalanced_quote_does_not_swallow_the_following_lines(self, tmp_path: Path) -> None:
        lines = ['xx01\t1\t\tHe said "hi', "xx02\t0\t*\tThen he left.", 'xx03\t1\t\tShe replied "bye".']
        path = write_tsv(tmp_path / "quotes.tsv", lines, trailing_newline=False)

        split = load_local_split(path)

        assert split["sentence"] == ['He said "hi', "Then he left.", 'She replied "bye".']
        assert split["label"] == [1, 0, 1]

    def test_validates_before_loading(self, tmp_path: Path) -> None:
        path = write_tsv(tmp_path / "bad.tsv", [VALID_LINES[0], "gj04\t7\t\tBad label."])

        with pytest.raises(DataValidationError, match="label must be 0 or 1"):
            load_local_split(path)


class TestLoadSplits:
    @pytest.fixture
    def train_and_dev(self, tmp_path: Path) -> tuple[Path, Path]:
        train = write_tsv(tmp_path / "train.tsv", VALID_LINES)
        dev = write_tsv(tmp_path / "dev.tsv", VALID_LINES[:2])
        return train, dev

    def test_local_source_gives_train_and_validation(self, train_and_dev: tuple[Path, Path]) -> None:
        train, dev = train_and_dev

        splits = load_splits("local", str(train), str(dev))

        assert set(splits) == {"train", "validation"}
        assert len(splits["train"]) == 3
        assert len(splits["validation"]) == 2

    def test_extra_eval_files_add_named_splits(self, tmp_path: Path, train_and_dev: tuple[Path, Path]) -> None:
        train, dev = train_and_dev
        extra = write_tsv(tmp_path / "out_of_domain.tsv", [VALID_LINES[1]])

        splits = load_splits("local", str(train), str(dev), extra_eval_files={"out_of_domain": str(extra)})

        assert set(splits) == {"train", "validation", "out_of_domain"}
        assert splits["out_of_domain"]["sentence"] == [VALID_LINES[1].split("\t")[3]]
        assert splits["out_of_domain"].column_names == ["sentence", "label"]

    @pytest.mark.parametrize("name", ["train", "validation"])
    def test_extra_split_name_clashing_with_a_builtin_split_fails(
        self, tmp_path: Path, train_and_dev: tuple[Path, Path], name: str
    ) -> None:
        train, dev = train_and_dev
        extra = write_tsv(tmp_path / "extra.tsv", [VALID_LINES[1]])

        with pytest.raises(DataValidationError, match=f"{name!r} clashes with a built-in split"):
            load_splits("local", str(train), str(dev), extra_eval_files={name: str(extra)})

    def test_unknown_source_fails(self) -> None:
        with pytest.raises(DataValidationError, match=re.escape("data.source must be 'local' or 'hub', got 'bogus'")):
            load_splits("bogus", None, None)

    @pytest.mark.parametrize(("train", "dev"), [(None, "dev.tsv"), ("train.tsv", None), ("", "")])
    def test_local_source_needs_both_files(self, train: str | None, dev: str | None) -> None:
        with pytest.raises(DataValidationError, match=re.escape("needs data.train_file and data.validation_file")):
            load_splits("local", train, dev)


class TestHubSource:
    """The Hub is unreachable here, so `datasets.load_dataset` is replaced by a stand-in (a mock, said so) that
    returns what GLUE CoLA returns: columns sentence, label, idx. The code after loading is the same path."""

    def test_hub_splits_are_normalised_to_sentence_and_label(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import datasets

        calls: list[tuple[str, str, str]] = []

        def fake_load_dataset(dataset_id: str, config_name: str, split: str) -> datasets.Dataset:
            calls.append((dataset_id, config_name, split))
            return datasets.Dataset.from_dict({"sentence": ["A b.", "C d."], "label": [1, 0], "idx": [0, 1]})

        monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
        splits = load_splits("hub", None, None, hub_id="nyu-mll/glue", hub_config="cola")
        assert calls == [("nyu-mll/glue", "cola", "train"), ("nyu-mll/glue", "cola", "validation")]
        assert set(splits) == {"train", "validation"}
        assert splits["train"].column_names == ["sentence", "label"]
