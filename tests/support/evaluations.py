"""Evaluation files for tests of what judges a bundle (the quality gate, the release's gates): the content
`make evaluate-bundle` writes, carrying chosen figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalice_app.chalicelib.contract.evaluation import SCHEMA_VERSION, Evaluation
from chalice_app.chalicelib.contract.manifest import load_manifest

# Figures measured on the bundles of a clean-clone `make all` (bench/results/behaviour.md).
SERVED_STUDENT: dict[str, float | None] = {
    "dev_mcc": 0.4542,
    "int8_agreement": 0.9829,
    "behaviour.mft_well_formed": 0.950,
    "behaviour.mft_word_order": 1.000,
    "behaviour.mft_agreement": 0.400,
    "behaviour.mft_missing_argument": 0.867,
    "behaviour.inv_names": 0.867,
    "behaviour.inv_numbers": 0.867,
    "behaviour.inv_nouns": 0.850,
    "behaviour.dir_deletion": 1.000,
}


def evaluation_of(bundle: Path, figures: dict[str, float | None]) -> Evaluation:
    """An evaluation file's content carrying `figures` (behaviour pass rates as capability reports)."""
    capabilities: dict[str, Any] = {
        name.removeprefix("behaviour."): {
            "test": "mft",
            "description": "",
            "n": 60,
            "passed": 0,
            "pass_rate": value,
            "failures": [],
        }
        for name, value in figures.items()
        if name.startswith("behaviour.")
    }
    dev: Any = {"file": "dev.tsv", "n": 527, "accuracy": 0.7, "mcc": figures["dev_mcc"], "confusion_matrix": []}
    return {
        "schema_version": SCHEMA_VERSION,
        "model_version": load_manifest(bundle)["model_version"],
        "model_file": "model.int8.onnx",
        "machine": {},
        "splits": {"dev": dev},
        "behaviour": {"seed": 16, "n_cases": 480, "capabilities": capabilities},
        "gate": {"passed": True, "floors": {}},  # what evaluate judged; the gate judges again with today's floors
    }
