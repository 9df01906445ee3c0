"""GET /health, /model, /openapi.json; lazy model loading; 503 when no model can be served; 500 only for bugs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.app_harness import (
    FAKE_VERSION,
    MAX_BATCH,
    MAX_TEXT_CHARS,
    Api,
    FakeModel,
    app_module,
    assert_error,
    chalicelib,
    new_client,
    settings,
)


@pytest.fixture
def lazy_api(fake_model: FakeModel, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app with a fresh runtime that loads the (fake) model on first use, counting the loads."""
    loads: list[Any] = []

    def loader(s: Any) -> FakeModel:
        loads.append(s)
        return fake_model

    runtime = chalicelib("api.runtime").Runtime(load_model=loader)
    runtime.configure(settings())
    monkeypatch.setattr(app_module(), "RUNTIME", runtime)
    return Api(new_client(), fake_model), loads


@pytest.fixture
def broken_api(fake_model: FakeModel) -> Any:
    """The app whose model cannot load (the bundle directory does not exist: the real loader's BundleError)."""
    runtime = app_module().RUNTIME
    runtime.configure(settings(model_dir=Path("/nonexistent/bundle")))
    yield Api(new_client(), fake_model)
    runtime.reset()


class TestHealth:
    def test_ok_with_the_model_version(self, api: Api) -> None:
        status, payload = api.get("/health")
        assert status == 200
        assert payload == {"status": "ok", "model_loaded": True, "model_version": FAKE_VERSION}

    def test_model_loads_lazily_and_once(self, lazy_api: Any) -> None:
        api, loads = lazy_api
        assert app_module().RUNTIME.loaded is False
        assert loads == []
        assert api.get("/health")[0] == 200
        assert api.post({"text": "One."})[0] == 200
        assert api.post({"texts": ["Two.", "Three."]})[0] == 200
        assert len(loads) == 1
        assert app_module().RUNTIME.loaded is True

    def test_unavailable_bundle_is_503_not_a_client_error(self, broken_api: Api, capsys: Any) -> None:
        status, payload = broken_api.get("/health")
        assert status == 503
        assert payload["status"] == "unavailable"
        assert payload["model_loaded"] is False
        assert payload["model_version"] is None
        assert payload["error"]["code"] == "model_unavailable"
        error_lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [line["code"] for line in error_lines if line["type"] == "error"] == ["model_unavailable"]
        # The operator's detail (the bundle path) is in the log line only; the public body says it in general terms.
        (logged,) = [line for line in error_lines if line["type"] == "error"]
        assert "does not exist" in logged["message"]
        assert "does not exist" not in payload["error"]["message"]
        assert "/" not in payload["error"]["message"]

    def test_unavailable_bundle_makes_predict_and_model_503(self, broken_api: Api) -> None:
        assert_error(*broken_api.post({"text": "Fine."}), 503, "model_unavailable")
        assert_error(*broken_api.get("/model"), 503, "model_unavailable")

    def test_client_errors_stay_client_errors_without_a_model(self, broken_api: Api) -> None:
        assert_error(*broken_api.post(b"{bad"), 400, "invalid_json")
        assert_error(*broken_api.post({"text": ""}), 422, "empty_text")

    def test_failure_is_remembered_not_retried_per_request(self, broken_api: Api, capsys: Any) -> None:
        for _ in range(3):
            assert broken_api.get("/health")[0] == 503
        out = capsys.readouterr().out
        assert out.count('"model_unavailable"') == 1


class TestSettingsFromEnvironment:
    @pytest.fixture
    def env_client(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        """A client without a Chalice config (project_dir with no .chalice), so only the test's env counts."""
        monkeypatch.delenv("MODEL_DIR", raising=False)
        app_module().RUNTIME.reset()
        yield new_client(project_dir=tmp_path)
        app_module().RUNTIME.reset()

    def test_invalid_settings_are_503_misconfigured(
        self, env_client: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
    ) -> None:
        monkeypatch.setenv("MAX_BATCH", "8")
        response = env_client.http.get("/health")
        assert response.status_code == 503
        payload = json.loads(response.body)
        assert payload["error"]["code"] == "misconfigured"
        assert "MAX_BATCH" not in payload["error"]["message"]  # settings are the operator's, not the public's
        logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert any(line["code"] == "misconfigured" and "MAX_BATCH" in line["message"] for line in logged)

    def test_settings_are_read_from_the_environment(self, env_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MAX_BATCH", "40")
        monkeypatch.setenv("MAX_TEXT_CHARS", "123")
        response = env_client.http.get("/openapi.json")
        assert response.status_code == 200
        texts = json.loads(response.body)["components"]["schemas"]["PredictRequest"]["oneOf"][1]["properties"]
        assert texts["texts"]["maxItems"] == 40
        assert texts["texts"]["items"]["maxLength"] == 123


class TestModel:
    def test_metadata(self, api: Api) -> None:
        status, payload = api.get("/model")
        assert status == 200
        manifest = api.model.manifest
        assert payload["model_version"] == FAKE_VERSION
        assert payload["model_name"] == "fake"
        assert payload["labels"] == ["unacceptable", "acceptable"]
        assert payload["files"]["model.int8.onnx"] == {"sha256": "ab" * 32, "bytes": 3}
        assert payload["training"] == manifest["training"]
        assert payload["parity"] == manifest["parity"]
        assert payload["serving"]["model_file"] == "model.int8.onnx"
        assert payload["limits"] == {
            "max_batch": MAX_BATCH,
            "max_text_chars": MAX_TEXT_CHARS,
            "max_sequence_tokens": 64,
        }

    def test_training_machine_config_is_not_published(self, api: Api) -> None:
        _, payload = api.get("/model")
        assert "source_config" not in payload
        assert "/home/someone" not in json.dumps(payload)


class TestOpenApi:
    @pytest.fixture
    def document(self, api: Api) -> dict[str, Any]:
        status, payload = api.get("/openapi.json")
        assert status == 200
        return dict(payload)

    def test_every_route_is_documented_and_nothing_else(self, document: dict[str, Any]) -> None:
        routes = app_module().app.routes
        expected = {(path, method.lower()) for path, methods in routes.items() for method in methods}
        documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
        assert documented == expected
        assert document["openapi"].startswith("3.")
        for path, ops in document["paths"].items():
            for method, operation in ops.items():
                assert "x-undocumented" not in operation, (path, method)
                assert operation["responses"], (path, method)

    def test_every_reference_resolves(self, document: dict[str, Any]) -> None:
        refs: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                refs.extend([node["$ref"]] if "$ref" in node else [])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(document)
        assert refs
        schemas = document["components"]["schemas"]
        assert {ref.removeprefix("#/components/schemas/") for ref in refs} <= set(schemas)

    def test_error_schema_lists_every_code_and_statuses_match(self, document: dict[str, Any]) -> None:
        codes = chalicelib("api.errors").ERROR_CODES
        assert document["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"] == sorted(codes)
        predict = document["paths"]["/predict"]["post"]["responses"]
        for status in ("400", "413", "415", "422", "503"):
            assert predict[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}

    def test_limits_are_the_deployments(self, document: dict[str, Any]) -> None:
        batch = document["components"]["schemas"]["PredictRequest"]["oneOf"][1]["properties"]["texts"]
        assert batch["maxItems"] == MAX_BATCH
        assert batch["items"]["maxLength"] == MAX_TEXT_CHARS

    def test_responses_have_the_documented_required_fields(self, api: Api, document: dict[str, Any]) -> None:
        schemas = document["components"]["schemas"]
        _, predicted = api.post({"texts": ["A.", "B."]})
        assert set(schemas["PredictResponse"]["required"]) <= set(predicted)
        for prediction in predicted["predictions"]:
            assert set(schemas["Prediction"]["required"]) <= set(prediction)
        assert set(schemas["Health"]["required"]) <= set(api.get("/health")[1])
        assert set(schemas["ModelInfo"]["required"]) <= set(api.get("/model")[1])
        _, error = api.post({"text": ""})
        assert set(schemas["ErrorDetail"]["required"]) <= set(error["error"])

    def test_an_undocumented_route_would_be_flagged(self) -> None:
        build = chalicelib("api.openapi").build_openapi
        document = build({"/extra": {"GET": object()}}, max_batch=32, max_text_chars=10)
        assert document["paths"]["/extra"]["get"]["x-undocumented"] is True


class TestBugs:
    def test_an_exception_in_a_view_is_a_logged_500(self, api: Api, capsys: Any) -> None:
        api.model.fail_with = RuntimeError("boom")
        error = assert_error(*api.post({"text": "Fine."}), 500, "internal_error")
        assert "boom" not in error["message"]
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        (logged,) = [line for line in lines if line["type"] == "error"]
        assert logged["code"] == "internal_error"
        assert logged["request_id"] == error["request_id"]
        assert "RuntimeError: boom" in logged["traceback"]
        assert not [line for line in lines if line["type"] == "prediction"]

    def test_chalice_500_bodies_are_rewritten_too(self) -> None:
        errors = chalicelib("api.errors")
        response = errors.normalize_chalice_error(
            app_module().Response(body={"Code": "InternalServerError", "Message": "trace..."}, status_code=500)
        )
        assert response.status_code == 500
        assert response.body == {"error": {"code": "internal_error", "message": "An internal server error occurred."}}


class TestLambdaEvent:
    """The app object is the Lambda handler: an API Gateway proxy event carries API Gateway's requestId."""

    def event(self, body: str) -> dict[str, Any]:
        return {
            "resource": "/predict",
            "path": "/predict",
            "httpMethod": "POST",
            "headers": {"content-type": "application/json"},
            "multiValueHeaders": {"content-type": ["application/json"]},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": "/predict",
                "httpMethod": "POST",
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "path": "/dev/predict",
                "stage": "dev",
            },
            "body": body,
            "isBase64Encoded": False,
        }

    def test_request_id_comes_from_api_gateway(self, api: Api, capsys: Any) -> None:
        response = app_module().app(self.event(json.dumps({"texts": ["A.", "B."]})), None)
        assert response["statusCode"] == 200
        assert json.loads(response["body"])["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [line["request_id"] for line in lines] == ["c6af9ac6-7b61-11e6-9a41-93e8deadbeef"] * 2
