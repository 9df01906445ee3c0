"""The template `chalice package --stage dev` writes for this app (the API and the ship_logs function), kept in
chalice_sam_dev.json beside this module so that the deploy-template tests need no `make package`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).with_name("chalice_sam_dev.json")
APP = "cola-acceptability"


def sample() -> dict[str, Any]:
    return dict(json.loads(SAMPLE.read_text()))
