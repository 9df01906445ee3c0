"""The names Chalice gives a stage's AWS resources, read from .chalice/config.json (the runtime world's config).

Chalice names the function that serves the REST API `<app_name>-<stage>` and a `@app.lambda_function(name=N)`
function `<app_name>-<stage>-<N>`; Lambda writes each function's logs to the log group `/aws/lambda/<function>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.config import Config

ROOT = Path(__file__).resolve().parents[1]
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
API_HANDLER = "api_handler"
"""Chalice's own name for the function behind the REST API (a key of `lambda_functions` in its config)."""
SHIPPER = "ship_logs"
"""The log shipper: `@app.lambda_function(name="ship_logs")` in chalice_app/app.py."""
DEFAULT_RETENTION_DAYS = 30
"""Used when .chalice/config.json sets no `log_retention_in_days` (Chalice's key) for the API function."""
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The values CloudWatch Logs accepts for a retention policy (PutRetentionPolicy)."""


class ConfigError(ValueError):
    """.chalice/config.json lacks what a tool needs, or holds a value AWS would refuse."""


@dataclass(frozen=True)
class StageNames:
    """One stage's function names, the API's log group and the retention its config asks for."""

    app_name: str
    stage: str
    api_function: str
    shipper_function: str
    log_group: str
    retention_days: int


def log_group_of(function_name: str) -> str:
    """The log group Lambda writes a function's logs to."""
    return f"/aws/lambda/{function_name}"


def check_retention(days: int) -> int:
    """`days` when CloudWatch Logs accepts it as a retention period, else a ConfigError listing what it accepts."""
    if days not in RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in RETENTION_DAYS)
        raise ConfigError(f"log retention of {days} days is not one CloudWatch Logs accepts: use one of {allowed}")
    return days


def read_config(path: Path = CHALICE_CONFIG) -> dict[str, Any]:
    """The parsed Chalice config, or a ConfigError that names the file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: the Chalice project's config is needed to name its functions") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or not data.get("app_name"):
        raise ConfigError(f"{path} has no app_name")
    return data


def stage_names(stage: str, config: dict[str, Any] | None = None) -> StageNames:
    """Names of `stage` (which must be one of the config's stages); retention looked up as Chalice does."""
    config = read_config() if config is None else config
    stages = config.get("stages", {})
    if stage not in stages:
        known = ", ".join(sorted(stages)) or "none"
        raise ConfigError(f"stage {stage!r} is not in .chalice/config.json (stages: {known})")
    # Chalice's Config resolves per-stage and per-function overrides in its documented order.
    chalice = Config(chalice_stage=stage, function_name=API_HANDLER, config_from_disk=config)
    app_name = str(chalice.app_name)
    retention = chalice.log_retention_in_days
    api_function = f"{app_name}-{stage}"
    return StageNames(
        app_name=app_name,
        stage=stage,
        api_function=api_function,
        shipper_function=f"{app_name}-{stage}-{SHIPPER}",
        log_group=log_group_of(api_function),
        retention_days=check_retention(int(retention) if retention is not None else DEFAULT_RETENTION_DAYS),
    )
