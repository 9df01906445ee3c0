"""Settings from the environment, and the deployment configuration: .chalice/config.json (read through the
chalice_app/.chalice link, as Chalice reads it), the IAM policies, and the Lambda package's requirements."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chalice.cli.factory import CLIFactory

from tests.conftest import ROOT
from tests.support.app_harness import APP_DIR, app_module, chalicelib

STAGES = ("dev", "prod")


def settings_module() -> Any:
    return chalicelib("api.settings")


class TestSettings:
    def test_defaults(self) -> None:
        s = settings_module().Settings.from_env({})
        assert s.model_dir == APP_DIR / "chalicelib" / "bundle"
        assert s.model_file is None
        assert s.max_batch == 64
        assert s.max_text_chars == 20_000
        assert s.log_raw_text is False
        assert s.log_level == "INFO"
        assert s.ort_threads is None  # sized from the CPU quota (chalicelib/api/cpu.py)

    @pytest.mark.parametrize(("value", "threads"), [("1", 1), (" 3 ", 3), ("", None)])
    def test_ort_threads_is_a_setting(self, value: str, threads: int | None) -> None:
        assert settings_module().Settings.from_env({"ORT_THREADS": value}).ort_threads == threads

    @pytest.mark.parametrize(
        ("value", "message"),
        [("0", "must be a whole number >= 1"), ("-2", "must be a whole number >= 1"), ("two", "must be an integer")],
    )
    def test_a_bad_ort_threads_is_a_configuration_error(self, value: str, message: str) -> None:
        module = settings_module()
        with pytest.raises(module.SettingsError, match=f"ORT_THREADS {message}"):
            module.Settings.from_env({"ORT_THREADS": value})

    def test_relative_model_dir_is_relative_to_the_app_not_the_working_directory(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.chdir(tmp_path)
        s = settings_module().Settings.from_env({"MODEL_DIR": "chalicelib/bundle"})
        assert s.model_dir == APP_DIR / "chalicelib" / "bundle"

    def test_absolute_model_dir_and_overrides(self, tmp_path: Path) -> None:
        env = {
            "MODEL_DIR": str(tmp_path),
            "MODEL_FILE": "model.onnx",
            "MAX_BATCH": "128",
            "MAX_TEXT_CHARS": "1000",
            "LOG_RAW_TEXT": "True",
            "LOG_LEVEL": "debug",
        }
        s = settings_module().Settings.from_env(env)
        assert (s.model_dir, s.model_file, s.max_batch, s.max_text_chars) == (tmp_path, "model.onnx", 128, 1000)
        assert s.log_raw_text is True
        assert s.log_level == "DEBUG"

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("MAX_BATCH", "31"),
            ("MAX_BATCH", "lots"),
            ("MAX_TEXT_CHARS", "0"),
            ("MAX_TEXT_CHARS", "1e3"),
            ("LOG_RAW_TEXT", "maybe"),
            ("LOG_LEVEL", "LOUD"),
        ],
    )
    def test_invalid_values_are_refused(self, name: str, value: str) -> None:
        module = settings_module()
        with pytest.raises(module.SettingsError, match=name):
            module.Settings.from_env({name: value})

    @pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("", False), ("yes", True)])
    def test_log_raw_text_values(self, value: str, expected: bool) -> None:
        assert settings_module().Settings.from_env({"LOG_RAW_TEXT": value}).log_raw_text is expected


def chalice_config(stage: str) -> Any:
    """The stage's config as Chalice itself builds it from chalice_app/ (through the .chalice link)."""
    return CLIFactory(str(APP_DIR)).create_config_obj(chalice_stage_name=stage)


class TestChaliceConfig:
    def test_chalice_dir_is_a_link_to_the_repository_root(self) -> None:
        link = APP_DIR / ".chalice"
        assert link.is_symlink()
        assert link.readlink() == Path("../.chalice")
        assert (ROOT / ".chalice" / "config.json").is_file()

    def test_app_name_matches_the_app(self) -> None:
        raw = json.loads((ROOT / ".chalice" / "config.json").read_text())
        assert raw["version"] == "2.0"
        assert raw["app_name"] == app_module().app.app_name == "cola-acceptability"

    @pytest.mark.parametrize("stage", STAGES)
    def test_deployed_stages(self, stage: str) -> None:
        config = chalice_config(stage)
        assert config.app_name == "cola-acceptability"
        assert config.lambda_timeout < 29  # API Gateway cuts an integration at 29 s: the function must stop first
        assert config.autogen_policy is False
        assert config.api_gateway_stage == stage
        assert config.tags.items() >= {"project": "cola-acceptability", "stage": stage}.items()
        env = config.environment_variables
        assert env["MODEL_DIR"] == "chalicelib/bundle"
        assert env["LOG_RAW_TEXT"] == "false"
        settings = settings_module().Settings.from_env(env)
        assert settings.max_batch >= 32
        assert settings.model_dir == APP_DIR / "chalicelib" / "bundle"

    @pytest.mark.parametrize("stage", STAGES)
    def test_the_shipper_has_its_own_timeout_and_memory(self, stage: str) -> None:
        """Retrying a batch can outlast an API request, and the shipper loads no model."""
        shipper = CLIFactory(str(APP_DIR)).create_config_obj(chalice_stage_name=stage).scope(stage, "ship_logs")
        api = chalice_config(stage)
        assert shipper.lambda_timeout > api.lambda_timeout
        assert shipper.lambda_memory_size < api.lambda_memory_size

    def test_prod_reserves_concurrency_per_function_dev_uses_the_shared_pool(self) -> None:
        """Reserved concurrency caps what a flood can cost and keeps the shipper from starving the API; a fresh
        account's concurrency limit (10) cannot reserve any, so dev does not."""
        prod = CLIFactory(str(APP_DIR)).create_config_obj(chalice_stage_name="prod")
        assert prod.scope("prod", "api_handler").reserved_concurrency == 50
        assert prod.scope("prod", "ship_logs").reserved_concurrency == 2
        dev = CLIFactory(str(APP_DIR)).create_config_obj(chalice_stage_name="dev")
        assert dev.scope("dev", "api_handler").reserved_concurrency is None

    @pytest.mark.parametrize("stage", STAGES)
    def test_memory_is_the_size_bench_lambda_recommends(self, stage: str) -> None:
        """`make bench-lambda` picks each stage's memory size by the rule in conf/bench/lambda.yaml
        (docs/benchmarks.md); after a new run, copy its recommendation into .chalice/config.json."""
        results = json.loads((ROOT / "bench" / "results" / "lambda_power.json").read_text())
        recommended = results["recommendation"][stage]["memory_mb"]
        assert chalice_config(stage).lambda_memory_size == recommended, (
            f"{stage}: .chalice/config.json has {chalice_config(stage).lambda_memory_size} MB, "
            f"bench/results/lambda_power.md recommends {recommended} MB"
        )

    def test_local_stage_leaves_model_dir_to_the_caller(self) -> None:
        """Chalice lets a stage's variables override the caller's environment: `make serve` relies on this."""
        env = chalice_config("local").environment_variables
        assert "MODEL_DIR" not in env
        settings_module().Settings.from_env(env)

    @pytest.mark.parametrize("stage", STAGES)
    def test_iam_policy_allows_only_cloudwatch_logs(self, stage: str) -> None:
        config = chalice_config(stage)
        policy = json.loads((ROOT / ".chalice" / config.iam_policy_file).read_text())
        assert config.iam_policy_file == f"policy-{stage}.json"
        actions = {action for statement in policy["Statement"] for action in statement["Action"]}
        assert actions == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert all(f"/aws/lambda/cola-acceptability-{stage}" in r for r in statement["Resource"])


def pins(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return sorted(line for line in lines if line)


def test_lambda_requirements_are_the_runtime_pins() -> None:
    assert pins(APP_DIR / "requirements.txt") == pins(ROOT / "requirements" / "runtime.txt")
    assert not [p for p in pins(APP_DIR / "requirements.txt") if p.split("==")[0] in {"torch", "transformers"}]


def test_importing_the_app_loads_no_model_library() -> None:
    """Import stays cheap: onnxruntime and the bundle are loaded by the first request that needs them."""
    code = (
        "import sys; sys.path.insert(0, 'chalice_app'); import app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'onnxruntime', 'tokenizers', 'numpy', 'torch'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
