"""The real conf/ composed for an in-process smoke run: the overrides every such run starts from, in one place."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from tests.conftest import ROOT


def smoke_overrides(output_dir: Path, *, logger: bool = False) -> list[str]:
    """The smoke preset, no progress bar, this repository's root and pretrained cache, the run in `output_dir`;
    no logger unless `logger` (the run then logs as the default config says: W&B offline)."""
    return [
        "debug=smoke",
        *([] if logger else ["logger=none"]),
        "trainer.enable_progress_bar=false",
        f"paths.root={ROOT}",
        f"paths.output_dir={output_dir}",
        f"paths.pretrained_cache={ROOT / 'artifacts' / 'pretrained'}",
    ]


def compose_smoke(config_name: str, output_dir: Path, *overrides: str, logger: bool = False) -> DictConfig:
    """`config_name` from conf/ with `smoke_overrides(output_dir)`, then `overrides`."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name, overrides=[*smoke_overrides(output_dir, logger=logger), *overrides])
