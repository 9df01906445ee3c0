"""The pure parts of infra/subscribe.py: ARNs, the statement id, which policy statements count as the grant."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra.aws_errors import SetupError
from infra.subscribe import FunctionArn, Target, default_filter_name, grants_invoke

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:cola-acceptability-prod-ship_logs"


def test_function_arns_parse_and_lose_their_qualifier() -> None:
    assert str(FunctionArn.parse(ARN)) == ARN
    assert str(FunctionArn.parse(ARN + ":live")) == ARN
    china = FunctionArn.parse("arn:aws-cn:lambda:cn-north-1:123456789012:function:f")
    assert (china.partition, china.region, china.name) == ("aws-cn", "cn-north-1", "f")


@pytest.mark.parametrize("bad", ["cola-acceptability-prod-ship_logs", "arn:aws:s3:::bucket", ARN.replace("12", "1", 1)])
def test_other_strings_are_not_function_arns(bad: str) -> None:
    with pytest.raises(SetupError, match="is not a Lambda function ARN"):
        FunctionArn.parse(bad)


def test_target_derives_source_arn_principal_and_statement_id() -> None:
    target = Target("/aws/lambda/cola-acceptability-prod", 30, FunctionArn.parse(ARN), "f")
    assert target.log_group_arn == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/cola-acceptability-prod:*"
    assert target.principal == "logs.eu-west-1.amazonaws.com"
    assert target.statement_id == "cloudwatch-logs-aws-lambda-cola-acceptability-prod"
    assert default_filter_name(target.shipper) == "logs-to-cola-acceptability-prod-ship_logs"


def test_statement_ids_stay_within_lambdas_rules_for_any_log_group() -> None:
    target = Target("/weird group/" + "x" * 300 + "/#1", 30, FunctionArn.parse(ARN), "f")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,100}", target.statement_id)


SOURCE = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/api:*"
GRANT: dict[str, Any] = {
    "Sid": "any",
    "Effect": "Allow",
    "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
    "Action": "lambda:InvokeFunction",
    "Resource": ARN,
    "Condition": {"ArnLike": {"AWS:SourceArn": SOURCE}},
}


def test_a_matching_statement_counts_whatever_its_id() -> None:
    assert grants_invoke(GRANT, "logs.eu-west-1.amazonaws.com", SOURCE)
    assert grants_invoke({**GRANT, "Action": ["lambda:*"]}, "logs.eu-west-1.amazonaws.com", SOURCE)


@pytest.mark.parametrize(
    "change",
    [
        {"Effect": "Deny"},
        {"Principal": {"Service": "logs.us-east-1.amazonaws.com"}},
        {"Action": "lambda:GetFunction"},
        {"Condition": {"ArnLike": {"AWS:SourceArn": SOURCE.replace("/api", "/other")}}},
        {"Condition": {}},
    ],
)
def test_a_statement_that_grants_something_else_does_not_count(change: dict[str, Any]) -> None:
    assert not grants_invoke({**GRANT, **change}, "logs.eu-west-1.amazonaws.com", SOURCE)
