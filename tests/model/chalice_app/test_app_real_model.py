"""The app on a real bundle (the session's smoke export) through Chalice's test client: the real predictor
loaded lazily from MODEL_DIR, truncation, unicode, /model from the manifest, corrupt bundles, no torch."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from tests.support.app_harness import Api, app_module, assert_error, chalicelib, new_client
from tests.support.app_harness import settings as app_settings

LONG_TEXT = " ".join(["the cat that the dog chased ran up a tall tree"] * 20)  # about 220 word pieces
UNICODE = [
    "Ünïcödé façade naïve café.",
    "emoji 😀👍🏽 🇳🇿",
    "control\x01\x1b[31m\x07",
    "NUL\x00inside",
    "עברית מימין לשמאל",
    "\u202eRTL override\u202c",
    "𓀀𓀁 ☃",
    "漢字とかな",
]


def serve(bundle: Path, **overrides: Any) -> Any:
    """A fresh runtime with the real loader on `bundle`, swapped into the app (returns the patch context)."""
    runtime = chalicelib("api.runtime").Runtime()
    runtime.configure(app_settings(model_dir=bundle, max_text_chars=20_000, **overrides))
    patch = pytest.MonkeyPatch()
    patch.setattr(app_module(), "RUNTIME", runtime)
    return patch


@pytest.fixture(scope="module")
def real_api(smoke_bundle: Path) -> Iterator[Api]:
    patch = serve(smoke_bundle)
    yield Api(new_client(), None)
    patch.undo()


@pytest.fixture
def api_on(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Serve another bundle directory for one test: api_on(path, **settings) -> Api."""
    patches: list[Any] = []

    def _on(bundle: Path, **overrides: Any) -> Api:
        patches.append(serve(bundle, **overrides))
        return Api(new_client(), None)

    yield _on
    for patch in patches:
        patch.undo()


def manifest_of(bundle: Path) -> dict[str, Any]:
    return dict(json.loads((bundle / "manifest.json").read_text()))


class TestServing:
    def test_health_loads_the_bundle(self, real_api: Api, smoke_bundle: Path) -> None:
        status, payload = real_api.get("/health")
        assert status == 200
        assert payload == {
            "status": "ok",
            "model_loaded": True,
            "model_version": manifest_of(smoke_bundle)["model_version"],
        }

    def test_long_text_under_the_cap_is_truncated(self, real_api: Api) -> None:
        status, payload = real_api.post({"texts": [LONG_TEXT, "Short."]})
        assert status == 200
        long, short = payload["predictions"]
        assert long["truncated"] is True
        assert long["n_tokens"] == 62
        assert short["truncated"] is False

    def test_the_cap_itself(self, real_api: Api) -> None:
        at_cap = ("word " * 4000)[:20_000]
        assert real_api.post({"text": at_cap})[0] == 200
        assert_error(*real_api.post({"text": at_cap + "x"}), 413, "text_too_long")

    @pytest.mark.parametrize("text", ["\u200b", "\ufeff", "\u0000", "\u200b\u200c\u2060\x01", "\u00ad"], ids=repr)
    def test_a_text_the_model_reads_nothing_of_is_refused_not_guessed(self, real_api: Api, text: str) -> None:
        error = assert_error(*real_api.post({"text": text}), 422, "no_content")
        assert error["field"] == "text"

    def test_a_contentless_text_in_a_batch_is_named(self, real_api: Api) -> None:
        error = assert_error(*real_api.post({"texts": ["Fine.", "\u200b", "Also fine."]}), 422, "no_content")
        assert error["field"] == "texts[1]"

    def test_what_only_the_tokenizer_finds_empty_is_refused_after_tokenisation(self, real_api: Api) -> None:
        """Format characters beyond the BMP pass the published pattern; the model still reads nothing of them."""
        texts = ["Fine.", "\U000e0001\U000e0041", "Also fine.", "\U0001d173"]
        error = assert_error(*real_api.post({"texts": texts}), 422, "no_content")
        assert error["field"] == "texts[1]"
        assert "(and 1 more)" in error["message"]

    def test_unicode_and_control_characters(self, real_api: Api) -> None:
        status, payload = real_api.post({"texts": UNICODE})
        assert status == 200
        assert len(payload["predictions"]) == len(UNICODE)
        for text in UNICODE:
            assert real_api.post({"text": text})[0] == 200

    def test_log_lines_of_real_predictions(self, real_api: Api, capsys: pytest.CaptureFixture[str]) -> None:
        capsys.readouterr()
        _, payload = real_api.post({"texts": ["The cat sat on the mat.", LONG_TEXT, "𓀀𓀁 ☃"]})
        logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        logged = [line for line in logged if line["type"] == "prediction"]
        assert [line["index"] for line in logged] == [0, 1, 2]
        assert [line["n_tokens"] for line in logged] == [p["n_tokens"] for p in payload["predictions"]]
        assert logged[0]["n_tokens"] == 7
        assert logged[1]["truncated"] is True
        assert logged[2]["unknown_token_rate"] > 0
        assert logged[0]["model_file"] == "model.int8.onnx"

    def test_model_metadata_is_the_manifests(self, real_api: Api, smoke_bundle: Path) -> None:
        manifest = manifest_of(smoke_bundle)
        status, payload = real_api.get("/model")
        assert status == 200
        assert payload["model_version"] == manifest["model_version"]
        assert payload["training"] == manifest["training"]
        assert payload["parity"] == manifest["parity"]
        assert payload["serving"]["model_file"] == manifest["serving"]["model_file"]
        assert payload["limits"]["max_sequence_tokens"] == manifest["tokenizer"]["max_length"]
        for name, entry in payload["files"].items():
            assert entry == manifest["files"][name]
            assert hashlib.sha256((smoke_bundle / name).read_bytes()).hexdigest() == entry["sha256"]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(text=st.text(alphabet=st.characters(exclude_categories=()), max_size=300))
    def test_fuzzed_texts_never_5xx(self, real_api: Api, text: str) -> None:
        status, payload = real_api.post(json.dumps({"text": text}).encode())
        assert status in (200, 413, 422), payload


class TestBundles:
    def test_model_file_override(self, api_on: Any, smoke_bundle: Path) -> None:
        api = api_on(smoke_bundle, model_file="model.onnx")
        assert api.get("/model")[1]["serving"]["model_file"] == "model.onnx"
        assert api.post({"text": "The cat sat on the mat."})[0] == 200

    def test_batch_answers_in_order_like_one_by_one(self, api_on: Any, smoke_bundle: Path) -> None:
        """With the fp32 model (int8's dynamic quantization scales activations per batch, so it differs a bit)."""
        api = api_on(smoke_bundle, model_file="model.onnx")
        texts = ["The sailors rode the breeze clear of the rocks.", "Them left.", LONG_TEXT, "Who did you see?"]
        status, batch = api.post({"texts": texts})
        assert status == 200
        for text, prediction in zip(texts, batch["predictions"], strict=True):
            _, single = api.post({"text": text})
            (alone,) = single["predictions"]
            assert alone["label"] == prediction["label"]
            assert alone["score"] == pytest.approx(prediction["score"], abs=1e-5)
            assert (alone["n_tokens"], alone["truncated"]) == (prediction["n_tokens"], prediction["truncated"])
            assert prediction["score"] == prediction["probabilities"][prediction["label"]] >= 0.5
            assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)

    def test_corrupt_bundle_is_503(self, api_on: Any, bundle_copy: Path, capsys: Any) -> None:
        tokenizer = bundle_copy / "tokenizer.json"
        tokenizer.write_bytes(tokenizer.read_bytes() + b" ")
        api = api_on(bundle_copy)
        status, payload = api.get("/health")
        assert status == 503
        assert payload["status"] == "unavailable"
        assert "sha256" not in payload["error"]["message"]  # hashes and paths go to the operator's log line
        logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert any(line.get("code") == "model_unavailable" and "sha256" in line["message"] for line in logged)
        assert_error(*api.post({"text": "The cat sat."}), 503, "model_unavailable")

    def test_missing_model_file_is_503(self, api_on: Any, bundle_copy: Path) -> None:
        (bundle_copy / "model.int8.onnx").unlink()
        assert_error(*api_on(bundle_copy).post({"text": "The cat sat."}), 503, "model_unavailable")

    def test_unknown_model_file_is_503(self, api_on: Any, smoke_bundle: Path) -> None:
        assert api_on(smoke_bundle, model_file="tokenizer.json").get("/health")[0] == 503


def test_fresh_interpreter_serves_without_training_libraries(smoke_bundle: Path) -> None:
    """app.py as Lambda imports it: a request through Chalice loads no torch, transformers or training code."""
    code = textwrap.dedent(
        """
        import json, sys
        sys.path.insert(0, "chalice_app")
        from chalice.test import Client
        import app

        client = Client(app.app, stage_name="local", project_dir="chalice_app")
        response = client.http.post(
            "/predict", headers={"Content-Type": "application/json"}, body=b'{"texts": ["Hi there.", "There hi."]}'
        )
        heavy = {"torch", "transformers", "lightning", "pytorch_lightning", "datasets", "onnx",
                 "model_training", "export", "hydra", "omegaconf", "torchmetrics", "wandb"}
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
        print(json.dumps({"status": response.status_code, "loaded": loaded}))
        """
    )
    env = {**os.environ, "MODEL_DIR": str(smoke_bundle)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 200, "loaded": []}
