"""What a benchmark's figures were measured on: one description for every result file in bench/results/."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from model_training.machine import machine_description


def machine_info(packages: Sequence[str], **settings: Any) -> dict[str, Any]:
    """Interpreter, CPUs, load average at start, the run's settings and package versions (read without importing),
    and the full description with its fingerprint (model_training.machine): CPU model and flags, kernel levels."""
    versions: dict[str, str | None] = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    description = machine_description(**settings)
    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "processor": description["cpu"]["model"],
        "fingerprint": description["fingerprint"],
        "platform": platform.platform(),
        **settings,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        **versions,
        "description": description,
    }
