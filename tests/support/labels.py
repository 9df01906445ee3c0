"""The label names of the data config (conf/data/cola.yaml), for tests that check what a CoLA bundle answers."""

from __future__ import annotations

from pathlib import Path

import yaml

LABELS: tuple[str, ...] = tuple(
    yaml.safe_load((Path(__file__).resolve().parents[2] / "conf" / "data" / "cola.yaml").read_text())["labels"]
)
