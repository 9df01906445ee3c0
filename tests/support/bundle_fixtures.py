"""Session fixtures for the model tests (tests/model/, and the integration tests that serve a real bundle): one
real smoke training run, one real bundle from it, the predictor on that bundle.

Training and exporting take about a minute on CPU, so they happen once per session. Tests must treat the session
bundle as read-only; a test that changes files uses `bundle_copy` (a private copy in its tmp_path).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from omegaconf import DictConfig

from chalice_app.chalicelib.api.predictor import Predictor
from tests.support.smoke_config import compose_smoke

ROOT = Path(__file__).resolve().parents[2]


def smoke_config(run_dir: Path, bundle_dir: Path, *overrides: str) -> DictConfig:
    """The real conf/ (the export entry config: training plus export settings) with debug=smoke, no logger, the run
    in `run_dir` and its export in `bundle_dir`."""
    return compose_smoke("export", run_dir, f"export.run_dir={run_dir}", f"export.bundle_dir={bundle_dir}", *overrides)


@dataclass(frozen=True)
class SmokeExport:
    """A finished smoke training run and the bundle exported from it."""

    run_dir: Path
    bundle_dir: Path

    def config(self, *overrides: str, bundle_dir: Path | None = None) -> DictConfig:
        """The config that exports this run again, into `bundle_dir` (default: the session bundle)."""
        return smoke_config(self.run_dir, bundle_dir or self.bundle_dir, *overrides)


@pytest.fixture(scope="session")
def smoke_export(tmp_path_factory: pytest.TempPathFactory) -> SmokeExport:
    """Train debug=smoke for real and build its bundle (whole dev set parity) once per session."""
    from export.build import build_bundle
    from model_training.train import train

    base = tmp_path_factory.mktemp("smoke_export")
    export = SmokeExport(run_dir=base / "run", bundle_dir=base / "bundle")
    cfg = export.config()
    train(cfg)
    build_bundle(cfg)
    return export


@pytest.fixture(scope="session")
def smoke_bundle(smoke_export: SmokeExport) -> Path:
    """The session's model bundle directory (read-only by convention)."""
    return smoke_export.bundle_dir


@pytest.fixture
def bundle_copy(smoke_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the session bundle that a test may modify or break."""
    return Path(shutil.copytree(smoke_bundle, tmp_path / "bundle"))


@pytest.fixture(scope="module")
def predictor(smoke_bundle: Path) -> Predictor:
    """The real predictor on the session's smoke bundle, serving its int8 model."""
    return Predictor(smoke_bundle)


@pytest.fixture(scope="module")
def fp32(smoke_bundle: Path) -> Predictor:
    """The same bundle's fp32 model."""
    return Predictor(smoke_bundle, model_file="model.onnx")
