"""Fixtures of the Chalice app tests (helpers in app_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chalice_app.chalicelib.api.predictor import Predictor
from tests.unit.chalice_app.app_harness import Api, FakeModel, app_module, configure, new_client


@pytest.fixture(scope="module")
def predictor(smoke_bundle: Path) -> Predictor:
    """The real predictor on the session's smoke bundle, serving its int8 model."""
    return Predictor(smoke_bundle)


@pytest.fixture(scope="module")
def fp32(smoke_bundle: Path) -> Predictor:
    """The same bundle's fp32 model."""
    return Predictor(smoke_bundle, model_file="model.onnx")


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def api(fake_model: FakeModel) -> Iterator[Api]:
    """The real app with the harness's settings and a fake model; the runtime is reset afterwards."""
    configure(fake_model)
    yield Api(new_client(), fake_model)
    app_module().RUNTIME.reset()
