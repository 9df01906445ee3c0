"""Load and validate CoLA: local TSV files (the offline default) or GLUE CoLA from the Hugging Face Hub."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import datasets

from chalice_app.chalicelib.contract.manifest import sha256_file

__all__ = ["COLUMNS", "ColaRow", "DataValidationError", "load_splits", "read_cola_tsv", "sha256_file"]

COLUMNS = ("source", "label", "mark", "sentence")
"""CoLA raw TSV columns: source code, label (0/1), the author's original mark, the sentence."""


class DataValidationError(ValueError):
    """A data file does not follow the CoLA TSV format; the message names file, line and problem."""


@dataclass(frozen=True)
class ColaRow:
    """One validated CoLA example."""

    source: str
    label: int
    mark: str
    sentence: str


def read_cola_tsv(path: str | Path) -> list[ColaRow]:
    """Read a CoLA-format TSV file, failing on the first malformed line with file, line number and reason."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: file not found (expected a CoLA TSV file: 4 tab-separated columns)")
    rows: list[ColaRow] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            for fields in reader:
                rows.append(_validate_line(path, reader.line_num, fields))
        except UnicodeDecodeError as err:
            raise DataValidationError(f"{path}: not valid UTF-8 ({err.reason} at byte {err.start})") from err
    if not rows:
        raise DataValidationError(f"{path}: file is empty (expected CoLA rows: source, label, mark, sentence)")
    return rows


def _validate_line(path: Path, line: int, fields: list[str]) -> ColaRow:
    where = f"{path}:{line}"
    if len(fields) != len(COLUMNS):
        raise DataValidationError(
            f"{where}: expected {len(COLUMNS)} tab-separated columns (source, label, mark, sentence), "
            f"found {len(fields)}"
        )
    source, label, mark, sentence = fields
    if label not in ("0", "1"):
        raise DataValidationError(f"{where}: label must be 0 or 1, found {label!r}")
    if not sentence.strip():
        raise DataValidationError(f"{where}: sentence is empty")
    return ColaRow(source=source, label=int(label), mark=mark, sentence=sentence)


def load_local_split(path: str | Path) -> datasets.Dataset:
    """Validate a CoLA TSV file, then load it with HF `datasets` (the csv builder); no row is dropped."""
    rows = read_cola_tsv(path)
    loaded = datasets.load_dataset(
        "csv",
        data_files=str(path),
        split="train",
        sep="\t",
        quoting=csv.QUOTE_NONE,
        header=None,
        names=list(COLUMNS),
        features=datasets.Features(
            {
                "source": datasets.Value("string"),
                "label": datasets.Value("int64"),
                "mark": datasets.Value("string"),
                "sentence": datasets.Value("string"),
            }
        ),
        keep_default_na=False,
    )
    if len(loaded) != len(rows) or loaded[-1]["sentence"] != rows[-1].sentence:
        raise DataValidationError(f"{path}: datasets read {len(loaded)} rows but the file holds {len(rows)}")
    return loaded.select_columns(["sentence", "label"])


def load_hub_split(dataset_id: str, config_name: str, split: str) -> datasets.Dataset:
    """Load GLUE CoLA (or a dataset of the same schema) from the Hugging Face Hub; needs network access."""
    loaded = datasets.load_dataset(dataset_id, config_name, split=split)
    return loaded.select_columns(["sentence", "label"])


def load_splits(
    source: str,
    train_file: str | None,
    validation_file: str | None,
    extra_eval_files: dict[str, str] | None = None,
    hub_id: str = "nyu-mll/glue",
    hub_config: str = "cola",
) -> datasets.DatasetDict:
    """Return train, validation and any named extra evaluation splits with columns `sentence`, `label`."""
    if source == "local":
        if not train_file or not validation_file:
            raise DataValidationError("data.source=local needs data.train_file and data.validation_file")
        splits = {"train": load_local_split(train_file), "validation": load_local_split(validation_file)}
    elif source == "hub":
        splits = {
            "train": load_hub_split(hub_id, hub_config, "train"),
            "validation": load_hub_split(hub_id, hub_config, "validation"),
        }
    else:
        raise DataValidationError(f"data.source must be 'local' or 'hub', got {source!r}")
    for name, path in (extra_eval_files or {}).items():
        if name in splits:
            raise DataValidationError(f"extra evaluation split name {name!r} clashes with a built-in split")
        splits[name] = load_local_split(path)
    return datasets.DatasetDict(splits)
