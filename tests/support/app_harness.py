"""Test harness for the Chalice app: import app.py as Chalice does, a fake model, a configured test client.

app.py imports `chalicelib.*` (Chalice's layout), so it is imported with chalice_app/ on sys.path, as module
`app`. Those chalicelib modules are other copies than `chalice_app.chalicelib.*` used by the predictor tests:
take classes the app uses from `app_module()` (e.g. its RUNTIME), never by isinstance across the two.
The pytest fixtures `fake_model` and `api` (below) are registered from tests/conftest.py.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from chalice.test import Client

from tests.conftest import ROOT

APP_DIR = ROOT / "chalice_app"
FAKE_VERSION = "m-fake00000000"
MAX_BATCH = 32
MAX_TEXT_CHARS = 500


def app_module() -> ModuleType:
    """chalice_app/app.py imported as Chalice imports it (module `app`, chalicelib on the path)."""
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    return importlib.import_module("app")


def chalicelib(name: str) -> ModuleType:
    """The app's own copy of chalicelib.<name>."""
    app_module()
    return importlib.import_module(f"chalicelib.{name}")


@dataclass(frozen=True)
class FakePrediction:
    label: str
    score: float
    probabilities: dict[str, float]
    n_chars: int
    n_tokens: int
    truncated: bool
    unknown_token_rate: float


@dataclass
class FakeModel:
    """A deterministic stand-in for the Predictor: P(acceptable) from the text's hash, one token per word."""

    model_version: str = FAKE_VERSION
    model_file: str = "model.int8.onnx"
    max_tokens: int = 62
    fail_with: Exception | None = None
    calls: list[list[str]] = field(default_factory=list)
    manifest: dict[str, Any] = field(
        default_factory=lambda: {
            "schema_version": 1,
            "model_version": FAKE_VERSION,
            "model_name": "fake",
            "run_name": "fake-run",
            "created_at": "2026-11-26T00:00:00Z",
            "labels": ["unacceptable", "acceptable"],
            "files": {"model.int8.onnx": {"sha256": "ab" * 32, "bytes": 3}, "tokenizer.json": {"sha256": "cd" * 32}},
            "tokenizer": {"max_length": 64, "pad_id": 0, "unk_id": 100},
            "serving": {"model_file": "model.int8.onnx"},
            "training": {"eval": {"validation": {"mcc": 0.5}}},
            "parity": {"int8_vs_fp32": {"prediction_agreement": 1.0}},
            "source_config": {"paths": {"root": "/home/someone/secret"}},
        }
    )

    def predict(self, texts: list[str]) -> list[FakePrediction]:
        self.calls.append(list(texts))
        if self.fail_with is not None:
            raise self.fail_with
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> FakePrediction:
        p = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[0] / 255
        label = "acceptable" if p >= 0.5 else "unacceptable"
        words = len(text.split())
        return FakePrediction(
            label=label,
            score=p if label == "acceptable" else 1 - p,
            probabilities={"unacceptable": 1 - p, "acceptable": p},
            n_chars=len(text),
            n_tokens=min(words, self.max_tokens),
            truncated=words > self.max_tokens,
            unknown_token_rate=0.0,
        )


def settings(**overrides: Any) -> Any:
    """The app's Settings with the harness's small limits (a batch of 32, texts of 500 characters)."""
    values: dict[str, Any] = {"model_dir": ROOT / "no-bundle-here", "max_batch": MAX_BATCH}
    values["max_text_chars"] = MAX_TEXT_CHARS
    return chalicelib("api.settings").Settings(**{**values, **overrides})


def new_client(project_dir: Path = APP_DIR, stage: str = "local") -> Client:
    """Chalice's test client on the real app (its config: chalice_app/.chalice -> .chalice)."""
    return Client(app_module().app, stage_name=stage, project_dir=str(project_dir))


@dataclass
class Api:
    """A test client with the app configured, and helpers that decode its JSON answers."""

    client: Client
    model: Any  # the FakeModel, or None when the real predictor serves

    def request(
        self, method: str, path: str, body: bytes | str | None = None, content_type: str | None = "application/json"
    ) -> tuple[int, Any, dict[str, str]]:
        headers = {"Content-Type": content_type} if content_type else {}
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
        response = self.client.http.request(method, path, headers=headers, body=raw)
        payload = json.loads(response.body) if response.body else None
        return response.status_code, payload, dict(response.headers)

    def post(self, body: Any, **kwargs: Any) -> tuple[int, Any]:
        """POST /predict with `body` serialized as JSON (bytes are sent as they are)."""
        raw = body if isinstance(body, bytes) else json.dumps(body)
        status, payload, _ = self.request("POST", "/predict", raw, **kwargs)
        return status, payload

    def get(self, path: str) -> tuple[int, Any]:
        status, payload, _ = self.request("GET", path)
        return status, payload


def configure(model: FakeModel | None = None, **overrides: Any) -> None:
    """Point the app's runtime at these settings and this (fake) model."""
    app_module().RUNTIME.configure(settings(**overrides), model)


def assert_error(status: int, payload: Any, expected_status: int, code: str) -> dict[str, Any]:
    """The answer is the API's error body with this status and code; returns the error object."""
    assert status == expected_status, payload
    assert isinstance(payload, dict)
    assert set(payload) == {"error"}, payload
    error: dict[str, Any] = payload["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def api(fake_model: FakeModel) -> Iterator[Api]:
    """The real app with the harness's settings and a fake model; the runtime is reset afterwards."""
    configure(fake_model)
    yield Api(new_client(), fake_model)
    app_module().RUNTIME.reset()
