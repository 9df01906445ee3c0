"""Function names, log group and retention of a stage come from .chalice/config.json, as Chalice reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.chalice_names import (
    CHALICE_CONFIG,
    DEFAULT_RETENTION_DAYS,
    ConfigError,
    check_retention,
    read_config,
    stage_names,
)


def config(**top: Any) -> dict[str, Any]:
    return {"version": "2.0", "app_name": "demo", "stages": {"dev": {}, "prod": {}}, **top}


def test_names_of_the_projects_dev_stage() -> None:
    names = stage_names("dev")
    assert names.app_name == json.loads(CHALICE_CONFIG.read_text())["app_name"] == "cola-acceptability"
    assert names.api_function == "cola-acceptability-dev"
    assert names.shipper_function == "cola-acceptability-dev-ship_logs"
    assert names.log_group == "/aws/lambda/cola-acceptability-dev"
    assert names.retention_days == DEFAULT_RETENTION_DAYS


def test_retention_follows_chalices_lookup_order() -> None:
    assert stage_names("dev", config(log_retention_in_days=90)).retention_days == 90
    stage_level = config(log_retention_in_days=90, stages={"dev": {"log_retention_in_days": 14}, "prod": {}})
    assert stage_names("dev", stage_level).retention_days == 14
    function_level = config(
        stages={"dev": {"log_retention_in_days": 14, "lambda_functions": {"api_handler": {"log_retention_in_days": 7}}}}
    )
    assert stage_names("dev", function_level).retention_days == 7
    assert stage_names("prod", stage_level).retention_days == 90


def test_a_retention_cloudwatch_refuses_is_an_error() -> None:
    with pytest.raises(ConfigError, match="log retention of 10 days is not one CloudWatch Logs accepts: use one of 1,"):
        stage_names("dev", config(log_retention_in_days=10))
    assert check_retention(365) == 365


def test_an_unknown_stage_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"stage 'qa' is not in .chalice/config.json \(stages: dev, prod\)"):
        stage_names("qa", config())


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "is not valid JSON"), ('{"stages": {}}', "has no app_name"), (None, "not found")],
)
def test_a_broken_config_file_is_named(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "config.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_config(path)
