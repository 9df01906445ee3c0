"""The API canary's PreTraffic hook, and the smoke cases it shares with infra.smoke.

CodeDeploy calls this function after CloudFormation has published the API function's new version and before the
alias sends it any traffic. It invokes that version (not the alias, which still serves the previous one) with the
smoke cases, GET /health and POST /predict as API Gateway proxy events, and reports Succeeded or Failed with
codedeploy:PutLifecycleEventHookExecutionStatus. Failed stops the deployment before a single request reaches the
new version, and CodeDeploy rolls the alias back (still 100% on the previous version).

The deploy template (infra.deploy_template) inlines this file as the function's code (Code.ZipFile → index.py,
python3.12 runtime), so the check does not depend on the image it checks: it must stay one file, importing only the
standard library and boto3 (which the Lambda runtime provides). infra.smoke runs the same cases over HTTPS after
the deploy.

Environment: TARGET_VERSION_ARN (the version to check: `!Ref <Function>.Version`), EXPECTED_MODEL_VERSION (the
bundle's model_version the image must serve).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from typing import Any

SENTENCE = "The book was written by John."
"""The sentence of the /predict smoke case."""
SUCCEEDED, FAILED = "Succeeded", "Failed"


def health_answered(status: int, health: Any) -> bool:
    """Whether GET /health answered at all (200 and a JSON object): only then is /predict worth asking."""
    return status == 200 and isinstance(health, dict)


def health_problems(status: int, health: Any, expected_version: str) -> list[str]:
    """What is wrong with a GET /health answer (empty: the version serves the expected model)."""
    if status != 200:
        return [f"GET /health answered {status}: {health}"]
    if not isinstance(health, dict):
        return [f"GET /health did not answer a JSON object: {health}"]
    if health.get("model_version") != expected_version:
        return [f"/health serves model {health.get('model_version')!r}, expected {expected_version!r}"]
    return []


def prediction_problems(status: int, answer: Any, expected_version: str) -> list[str]:
    """What is wrong with the POST /predict answer to {"text": SENTENCE} (empty: one valid prediction)."""
    if status != 200:
        return [f"POST /predict answered {status}: {answer}"]
    if not isinstance(answer, dict):
        return [f"POST /predict did not answer a JSON object: {answer}"]
    predictions = answer.get("predictions")
    if not isinstance(predictions, list) or len(predictions) != 1 or not isinstance(predictions[0], dict):
        return [f"POST /predict did not answer one prediction: {answer}"]
    problems = []
    prediction = predictions[0]
    probabilities = prediction.get("probabilities")
    label_known = (
        isinstance(probabilities, dict) and len(probabilities) >= 2 and prediction.get("label") in probabilities
    )
    score = prediction.get("score")
    if not label_known or not isinstance(score, (int, float)) or not 0.0 <= float(score) <= 1.0:
        problems.append(f"POST /predict answered an invalid prediction: {prediction}")
    if answer.get("model_version") != expected_version:
        problems.append(f"/predict used model {answer.get('model_version')!r}, expected {expected_version!r}")
    return problems


def proxy_event(method: str, path: str, payload: Any | None) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the API's integration (AWS_PROXY) sends one to the function."""
    request_id = f"pre-traffic-{uuid.uuid4()}"
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Accept": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"], "Accept": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"resourcePath": path, "httpMethod": method, "path": path, "requestId": request_id},
        "body": None if payload is None else json.dumps(payload),
        "isBase64Encoded": False,
    }


def invoke(lambda_client: Any, function: str, method: str, path: str, payload: Any | None) -> tuple[int, Any]:
    """(HTTP status, JSON body) of the function's answer to one request; a RuntimeError when it raised."""
    response = lambda_client.invoke(
        FunctionName=function,
        InvocationType="RequestResponse",
        Payload=json.dumps(proxy_event(method, path, payload)).encode(),
    )
    raw = response["Payload"].read()
    if response.get("FunctionError"):
        raise RuntimeError(f"{method} {path}: the function raised ({response['FunctionError']}): {raw[:500]!r}")
    answer = json.loads(raw)
    body = answer.get("body")
    try:
        return int(answer["statusCode"]), json.loads(body) if isinstance(body, str) and body else body
    except (KeyError, TypeError, ValueError):
        return 0, f"not an API Gateway proxy answer: {raw[:500]!r}"


def smoke_problems(lambda_client: Any, function: str, expected_version: str) -> list[str]:
    """The smoke cases against one function version: GET /health, then POST /predict (when /health answered)."""
    status, health = invoke(lambda_client, function, "GET", "/health", None)
    problems = health_problems(status, health, expected_version)
    if not health_answered(status, health):
        return problems
    answer = invoke(lambda_client, function, "POST", "/predict", {"text": SENTENCE})
    return problems + prediction_problems(*answer, expected_version)


def run(event: Mapping[str, Any], lambda_client: Any, codedeploy: Any, environ: Mapping[str, str]) -> dict[str, Any]:
    """Check the target version and report to CodeDeploy; any failure to check is a Failed, never a silence."""
    deployment_id = event.get("DeploymentId")
    execution_id = event.get("LifecycleEventHookExecutionId")
    if not deployment_id or not execution_id:
        raise ValueError(
            "the event has no DeploymentId / LifecycleEventHookExecutionId: this function is CodeDeploy's "
            "PreTraffic hook, not an API; invoke the API's alias instead"
        )
    target = environ.get("TARGET_VERSION_ARN", "")
    expected = environ.get("EXPECTED_MODEL_VERSION", "")
    try:
        if not target or not expected:
            raise ValueError("TARGET_VERSION_ARN and EXPECTED_MODEL_VERSION must be set (the deploy template does)")
        problems = smoke_problems(lambda_client, target, expected)
    except Exception as err:  # whatever breaks the check fails the deployment, with its reason
        problems = [f"the check could not run: {type(err).__name__}: {err}"]
    status = FAILED if problems else SUCCEEDED
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
    )
    record = {"hook": "pre_traffic", "deployment": deployment_id, "target": target, "status": status}
    print(json.dumps({**record, "expected_model_version": expected, "problems": problems}))
    return {"status": status, "problems": problems}


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (index.handler)."""
    import boto3  # the Lambda runtime's; imported here so that infra.smoke can share the cases without boto3

    return run(event, boto3.client("lambda"), boto3.client("codedeploy"), os.environ)
