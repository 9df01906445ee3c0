"""Hydra overrides from params.yaml: the knobs that `dvc exp run -S key=value` turns for one experiment.

params.yaml names the settings an experiment may change, each null by default, and null means "the value conf/
composes" (conf/training/default.yaml, conf/model/<model>.yaml, the encoder's recipe conf/experiment/recipe/).
`make train PARAMS=params.yaml`, which the DVC train stage runs, passes every non-null one to training as a Hydra
override: `dvc exp run -S training.lr=3e-5` trains with lr 3e-5, and DVC records the value with the experiment
(`dvc exp show`, `dvc params diff`).

Why not DVC's own Hydra composition (`hydra.enabled`): it resolves the composed config outside a Hydra run, where
conf/config.yaml's `${hydra:runtime.cwd}` cannot resolve, and the training would still read conf/, not the
params.yaml it writes. Why not `-S conf/training/default.yaml:lr=...`: DVC edits that one file, while the value
Hydra uses comes from the encoder's recipe (conf/experiment/recipe/<model>.yaml), composed over it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class ParamsError(ValueError):
    """params.yaml holds something that cannot become a Hydra override."""


def overrides(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    """`key.path=value` for every non-null leaf, in file order."""
    found: list[str] = []
    for key, value in params.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            found += overrides(value, prefix=f"{path}.")
        elif value is None:
            continue
        elif isinstance(value, bool):
            found.append(f"{path}={str(value).lower()}")
        elif isinstance(value, int | float):
            found.append(f"{path}={value!r}")
        elif isinstance(value, str) and value and not any(c.isspace() or c in "'\"$`\\" for c in value):
            found.append(f"{path}={value}")
        else:
            raise ParamsError(
                f"{path}: {value!r} cannot be passed as a Hydra override from params.yaml (numbers, booleans and "
                "plain words only; put lists and text with spaces in conf/ instead)"
            )
    return found


def load(path: Path) -> Mapping[str, Any]:
    """params.yaml as a mapping (an empty file is an empty mapping)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path} not found: PARAMS= names the experiment params file (params.yaml)") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path} is not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ParamsError(f"{path} must be a mapping of settings, got {type(data).__name__}")
    return data


def main(argv: list[str] | None = None) -> int:
    """Print the overrides of the params file named on the command line, space-separated."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m model_training.experiment_params params.yaml", file=sys.stderr)
        return 2
    try:
        print(" ".join(overrides(load(Path(args[0])))))
    except ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
