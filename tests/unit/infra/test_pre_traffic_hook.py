"""infra.pre_traffic_hook: CodeDeploy's PreTraffic hook of the API canary, against the real Chalice app.

Only the two AWS API calls are stood in for. The Lambda client's invoke runs the real app (chalice_app/app.py, with
the harness's fake model) on the API Gateway proxy event the hook builds, as Lambda runs the function version, and
answers as Lambda's Invoke does (Payload stream, FunctionError when the handler raised). Both stand-ins check the
call against botocore's service model (parameter names and types, the status enum CodeDeploy documents), so a
misspelt or invalid call fails here as it would against AWS. The verdict the hook reports follows from what the
app answered, which is what these tests assert.
"""

from __future__ import annotations

import ast
import io
import json
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from infra import pre_traffic_hook
from infra.deploy_template import TemplateOptions, transform
from tests.support.app_harness import FAKE_VERSION, FakeModel, app_module, configure
from tests.support.chalice_sam import APP, sample

TARGET = f"arn:aws:lambda:eu-west-1:123456789012:function:{APP}-dev:7"
EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "eyJleGVjdXRpb25JZCI6IjEyMyJ9"}
ENVIRON = {"TARGET_VERSION_ARN": TARGET, "EXPECTED_MODEL_VERSION": FAKE_VERSION}
_SESSION = botocore.session.get_session()


def check_call(service: str, operation: str, params: dict[str, Any]) -> None:
    """Raise as botocore would for parameters its service model refuses (and for a status outside its enum)."""
    shape = _SESSION.get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ValueError(report.generate_report())
    for name, value in params.items():
        enum = getattr(shape.members[name], "enum", None)  # StringShape only
        assert not enum or value in enum, f"{operation}: {name}={value!r} is not one of {enum}"


@dataclass
class InProcessLambda:
    """Lambda's Invoke for one published version whose code is `function` (the app's handler by default)."""

    function: Callable[[dict[str, Any], Any], Any]
    version_arn: str = TARGET
    requests: list[tuple[str, str]] = field(default_factory=list)

    def invoke(self, **params: Any) -> dict[str, Any]:
        check_call("lambda", "Invoke", params)
        if params["FunctionName"] != self.version_arn:
            raise LookupError(f"ResourceNotFoundException: {params['FunctionName']}")
        event = json.loads(params["Payload"])
        self.requests.append((event["httpMethod"], event["path"]))
        context = types.SimpleNamespace(aws_request_id="req-1", function_name=f"{APP}-dev", function_version="7")
        try:
            payload, error = self.function(event, context), None
        except Exception as err:  # what Lambda reports when the handler raises
            payload, error = {"errorMessage": str(err), "errorType": type(err).__name__}, "Unhandled"
        response = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(payload).encode()), "ExecutedVersion": "7"}
        return {**response, "FunctionError": error} if error else response


@dataclass
class CodeDeploy:
    """CodeDeploy's side of a lifecycle hook: the statuses reported for each hook execution."""

    reported: list[tuple[str, str, str]] = field(default_factory=list)

    def put_lifecycle_event_hook_execution_status(self, **params: Any) -> dict[str, str]:
        check_call("codedeploy", "PutLifecycleEventHookExecutionStatus", params)
        self.reported.append((params["deploymentId"], params["lifecycleEventHookExecutionId"], params["status"]))
        return {"lifecycleEventHookExecutionId": params["lifecycleEventHookExecutionId"]}


@pytest.fixture
def app(fake_model: FakeModel) -> Any:
    configure(fake_model)
    yield app_module().app
    app_module().RUNTIME.reset()


def verdict(lambda_client: InProcessLambda, environ: dict[str, str] = ENVIRON) -> tuple[CodeDeploy, dict[str, Any]]:
    codedeploy = CodeDeploy()
    result = pre_traffic_hook.run(EVENT, lambda_client, codedeploy, environ)
    return codedeploy, result


def test_a_version_that_answers_the_smoke_cases_lets_traffic_shift(app: Any) -> None:
    lambda_client = InProcessLambda(app)
    codedeploy, result = verdict(lambda_client)
    assert codedeploy.reported == [(EVENT["DeploymentId"], EVENT["LifecycleEventHookExecutionId"], "Succeeded")]
    assert result["problems"] == []
    assert lambda_client.requests == [("GET", "/health"), ("POST", "/predict")]


def test_a_version_serving_another_model_fails_the_deployment(app: Any) -> None:
    codedeploy, result = verdict(InProcessLambda(app), {**ENVIRON, "EXPECTED_MODEL_VERSION": "minilm-000000000000"})
    assert [status for *_, status in codedeploy.reported] == ["Failed"]
    assert result["problems"] == [
        f"/health serves model {FAKE_VERSION!r}, expected 'minilm-000000000000'",
        f"/predict used model {FAKE_VERSION!r}, expected 'minilm-000000000000'",
    ]


def test_a_version_whose_model_cannot_load_fails_before_any_prediction(fake_model: FakeModel) -> None:
    configure(None)  # no model and a model_dir without a bundle: /health answers 503
    try:
        lambda_client = InProcessLambda(app_module().app)
        codedeploy, result = verdict(lambda_client)
    finally:
        app_module().RUNTIME.reset()
    assert [status for *_, status in codedeploy.reported] == ["Failed"]
    assert result["problems"][0].startswith("GET /health answered 503")
    assert lambda_client.requests == [("GET", "/health")]


def test_a_version_whose_predictions_break_fails_the_deployment(app: Any, fake_model: FakeModel) -> None:
    fake_model.fail_with = RuntimeError("onnxruntime: bad input")  # the app answers 500 internal_error
    codedeploy, result = verdict(InProcessLambda(app))
    assert [status for *_, status in codedeploy.reported] == ["Failed"]
    assert result["problems"][0].startswith("POST /predict answered 500")


def test_a_version_that_raises_fails_the_deployment() -> None:
    def crashing(event: dict[str, Any], context: Any) -> Any:
        raise ImportError("No module named 'onnxruntime'")

    codedeploy, result = verdict(InProcessLambda(crashing))
    assert [status for *_, status in codedeploy.reported] == ["Failed"]
    assert "the function raised (Unhandled)" in result["problems"][0]


def test_an_answer_that_is_not_a_proxy_response_fails_the_deployment() -> None:
    codedeploy, result = verdict(InProcessLambda(lambda event, context: {"hello": "world"}))
    assert [status for *_, status in codedeploy.reported] == ["Failed"]
    assert "not an API Gateway proxy answer" in result["problems"][0]


@pytest.mark.parametrize("missing", ["TARGET_VERSION_ARN", "EXPECTED_MODEL_VERSION"])
def test_a_hook_without_its_settings_reports_failed_rather_than_nothing(app: Any, missing: str) -> None:
    """Silence would leave CodeDeploy waiting an hour for the hook; a Failed rolls back at once."""
    environ = {k: v for k, v in ENVIRON.items() if k != missing}
    codedeploy, result = verdict(InProcessLambda(app), environ)
    assert [status for *_, status in codedeploy.reported] == ["Failed"]
    assert "must be set" in result["problems"][0]


def test_an_invocation_that_is_not_codedeploys_is_refused_with_the_reason(app: Any) -> None:
    codedeploy = CodeDeploy()
    with pytest.raises(ValueError, match="PreTraffic hook, not an API"):
        pre_traffic_hook.run({"text": "hi"}, InProcessLambda(app), codedeploy, ENVIRON)
    assert codedeploy.reported == []


def test_the_smoke_test_after_deploy_uses_the_same_cases() -> None:
    from infra import smoke

    assert smoke.SENTENCE == pre_traffic_hook.SENTENCE
    assert smoke.cases is pre_traffic_hook


def test_the_inlined_code_runs_alone_on_the_standard_library_and_boto3(app: Any) -> None:
    """What the template inlines as index.py, executed as a module of its own (no repository on the path)."""
    (hook,) = [
        r["Properties"]
        for r in transform(sample(), app_name=APP, stage="dev", options=TemplateOptions())["Resources"].values()
        if r["Properties"].get("Handler") == "index.handler"
    ]
    tree = ast.parse(hook["InlineCode"])
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported - set(sys.stdlib_module_names) == {"boto3"}
    index = types.ModuleType("index")
    exec(compile(hook["InlineCode"], "index.py", "exec"), index.__dict__)  # the template's own code
    codedeploy = CodeDeploy()
    result = index.run(EVENT, InProcessLambda(app), codedeploy, ENVIRON)
    assert [status for *_, status in codedeploy.reported] == ["Succeeded"], result
