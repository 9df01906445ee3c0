"""Why tests/support/filter_pattern.py exists: moto 5.2, a real server here, cannot evaluate the subscription's
filter patterns (TestMetricFilter answers an internal error, FilterLogEvents ignores JSON patterns)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.subscribe import LINES
from tests.support.cloudwatch_lines import LAMBDA_LINES


@pytest.mark.integration
def test_moto_cannot_evaluate_patterns(tmp_path: Path) -> None:
    """Why the evaluator exists: if moto learns TestMetricFilter or JSON patterns, use it instead and drop this."""
    boto3 = pytest.importorskip("boto3")
    from devtools.moto_server import REGION, dummy_aws_env, moto_server

    env = dummy_aws_env(tmp_path)
    with moto_server(tmp_path, env) as server, pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        logs = boto3.client("logs", region_name=REGION, endpoint_url=server.endpoint)
        with pytest.raises(logs.exceptions.ClientError):
            logs.test_metric_filter(filterPattern=LINES["predictions"], logEventMessages=['{"type": "prediction"}'])
        logs.create_log_group(logGroupName="g")
        logs.create_log_stream(logGroupName="g", logStreamName="s")
        events = [{"timestamp": 1_795_689_602_000 + i, "message": m} for i, m in enumerate(LAMBDA_LINES.values())]
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=events)
        found = logs.filter_log_events(logGroupName="g", filterPattern=LINES["predictions"])["events"]
        assert len(found) == len(LAMBDA_LINES)  # CloudWatch would return none of these text lines
