"""Fixtures of the Chalice app tests (helpers in app_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.chalice_app.app_harness import Api, FakeModel, app_module, configure, new_client


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def api(fake_model: FakeModel) -> Iterator[Api]:
    """The real app with the harness's settings and a fake model; the runtime is reset afterwards."""
    configure(fake_model)
    yield Api(new_client(), fake_model)
    app_module().RUNTIME.reset()
