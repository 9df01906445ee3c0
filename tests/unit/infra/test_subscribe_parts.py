"""The pure parts of infra/subscribe.py: ARNs, the statement id, which policy statements count as the grant, the
alias setting and which earlier destinations may hold a grant to retire."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra.aws_errors import SetupError
from infra.deploy_template import TemplateOptions
from infra.subscribe import (
    DEFAULT_ALIAS,
    FunctionArn,
    Target,
    check_alias,
    check_unqualified,
    default_filter_name,
    grants_invoke,
    main,
    previous_qualifiers,
)
from tests.conftest import ROOT

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


def test_the_default_alias_is_the_one_the_container_deploy_creates() -> None:
    assert DEFAULT_ALIAS == TemplateOptions().alias == "live"
    assert f"\nSHIPPER_ALIAS ?= {DEFAULT_ALIAS}\n" in (ROOT / "Makefile").read_text()


def test_the_destination_is_the_alias_arn_or_the_function() -> None:
    function = FunctionArn.parse(ARN)
    assert Target("/aws/lambda/api", 30, function, "f", alias="live").destination == ARN + ":live"
    assert Target("/aws/lambda/api", 30, function, "f", alias="live").destination_name.endswith("ship_logs:live")
    assert Target("/aws/lambda/api", 30, function, "f").destination == ARN


@pytest.mark.parametrize("alias", ["live", "blue-green_2", "", "a" * 128])
def test_alias_names_lambda_accepts_pass(alias: str) -> None:
    assert check_alias(alias) == alias


@pytest.mark.parametrize("alias", ["7", "$LATEST", "live:1", "a" * 129, "has space"])
def test_versions_and_malformed_aliases_are_refused_with_what_to_pass(alias: str) -> None:
    with pytest.raises(SetupError, match=r"is not an alias name .* pass --alias live, or --alias '' for the unqual"):
        check_alias(alias)


def test_a_bad_alias_fails_the_command_before_any_aws_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stage", "dev", "--alias", "12", "--endpoint-url", "http://127.0.0.1:9"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("subscribe: error: --alias '12' is not an alias name")


@pytest.mark.parametrize(
    ("ref", "unqualified"),
    [(ARN + ":live", ARN), ("cola-acceptability-prod-ship_logs:live", "cola-acceptability-prod-ship_logs")],
)
def test_a_qualified_shipper_is_refused_and_pointed_at_alias(ref: str, unqualified: str) -> None:
    with pytest.raises(SetupError) as raised:
        check_unqualified(ref)
    assert str(raised.value) == (
        f"--shipper-arn {ref} names the qualifier 'live': pass the function's unqualified name or ARN ({unqualified}) "
        "and the alias with --alias live"
    )


@pytest.mark.parametrize("ref", [ARN, "cola-acceptability-prod-ship_logs", "arn:aws:s3:::not-a-function"])
def test_unqualified_names_and_non_lambda_arns_pass_the_qualifier_check(ref: str) -> None:
    check_unqualified(ref)  # a non-Lambda ARN is reported later, by the lookup


def filters_to(destination: str, name: str = "f") -> list[dict[str, Any]]:
    return [{"filterName": name, "destinationArn": destination}]


def test_retiring_looks_at_the_function_when_targeting_the_alias_and_at_the_old_qualifier() -> None:
    function = FunctionArn.parse(ARN)
    on_alias = Target("/aws/lambda/api", 30, function, "f", alias="live")
    unqualified = Target("/aws/lambda/api", 30, function, "f")
    assert previous_qualifiers(on_alias, []) == [""]
    assert previous_qualifiers(on_alias, filters_to(ARN + ":live")) == [""]
    assert previous_qualifiers(on_alias, filters_to(ARN + ":blue")) == ["", "blue"]
    assert previous_qualifiers(unqualified, filters_to(ARN + ":live")) == ["live"]
    assert previous_qualifiers(unqualified, filters_to(ARN)) == []
    assert previous_qualifiers(unqualified, filters_to(ARN + ":live", name="someone-elses")) == []
    assert previous_qualifiers(unqualified, filters_to(ARN.replace("ship_logs", "other") + ":live")) == []
