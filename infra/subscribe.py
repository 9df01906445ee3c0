"""`make subscribe`: send the API's log lines from CloudWatch Logs to the log shipper Lambda.

Each run makes three things true, changing only what differs, and prints one line per thing:
1. the API function's log group exists, with a retention policy (Chalice's `log_retention_in_days` of the stage
   in .chalice/config.json, else 30 days; --retention-days overrides);
2. CloudWatch Logs may invoke the shipper for that log group: a statement in the shipper's resource-based policy
   (principal logs.<region>.amazonaws.com, SourceArn the log group's ARN, SourceAccount its account);
3. a subscription filter on the log group sends matching events to the shipper (updated in place when its pattern
   or destination differ).

Which lines the filter sends (--lines, LINES= for make; --filter-pattern sets any pattern):
- all (default, pattern ""): every event of the API function. The shipper routes each line to its family of indices
  (chalicelib.index_fields): prediction lines to `predictions-*`, Lambda's START/END/REPORT lines to `platform-*`
  (durations, memory, cold starts), error lines, other diagnostic lines and plain-text output such as a crash's
  traceback to `app-logs-*`. Errors are the lines one most needs next to the predictions, and a JSON pattern could
  not select the plain-text ones (CloudWatch evaluates JSON patterns only on events that are JSON).
- predictions-and-errors: `{ ($.type = "prediction") || ($.type = "error") }`, the app's JSON lines that matter;
  Lambda's lines and plain text stay in CloudWatch Logs only.
- predictions: `{ $.type = "prediction" }`, the least traffic: what the Kibana dashboard and the drift report read.
  Errors then stay in CloudWatch Logs, where a metric filter and alarm on `{ $.type = "error" }` can watch them.

Usage: `python -m infra.subscribe --stage dev` (names from .chalice/config.json, ARNs from lambda get_function), or
`--log-group NAME --shipper-arn ARN`; `--dry-run` reads the current state and prints what it would change.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalice_app.chalicelib.log_schema import ERROR_TYPE, PREDICTION_TYPE
from infra.aws_errors import SetupError, error_code, explain
from infra.chalice_names import DEFAULT_RETENTION_DAYS, ConfigError, check_retention, stage_names

LINES: dict[str, str] = {
    "all": "",
    "predictions-and-errors": f'{{ ($.type = "{PREDICTION_TYPE}") || ($.type = "{ERROR_TYPE}") }}',
    "predictions": f'{{ $.type = "{PREDICTION_TYPE}" }}',
}
"""CloudWatch Logs filter pattern of each --lines choice ("" matches every event)."""
DEFAULT_LINES = "all"
FILTER_PATTERN = LINES[DEFAULT_LINES]
DEPLOY_FIRST = "deploy first: make deploy STAGE={stage} / chalice deploy --stage {stage} (in chalice_app/)"
LAMBDA_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$"
)


@dataclass(frozen=True)
class FunctionArn:
    """The parts of a Lambda function ARN (the qualifier, if any, is dropped: filters point at the function)."""

    partition: str
    region: str
    account: str
    name: str

    @classmethod
    def parse(cls, arn: str) -> FunctionArn:
        """Parse `arn`, or a SetupError saying what a Lambda function ARN looks like."""
        match = LAMBDA_ARN.match(arn)
        if match is None:
            raise SetupError(f"{arn!r} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)")
        return cls(match["partition"], match["region"], match["account"], match["name"])

    def __str__(self) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{self.name}"


@dataclass(frozen=True)
class Target:
    """What to subscribe: a log group, its retention, and the filter that sends its events to the shipper."""

    log_group: str
    retention_days: int
    shipper: FunctionArn
    filter_name: str
    filter_pattern: str = FILTER_PATTERN

    @property
    def log_group_arn(self) -> str:
        """The log group's ARN as Lambda permissions name it (a Lambda destination is in the log group's account
        and region, so they come from the shipper's ARN)."""
        s = self.shipper
        return f"arn:{s.partition}:logs:{s.region}:{s.account}:log-group:{self.log_group}:*"

    @property
    def principal(self) -> str:
        """The service principal that invokes a subscription's Lambda destination."""
        return f"logs.{self.shipper.region}.amazonaws.com"

    @property
    def statement_id(self) -> str:
        """A policy statement id derived from the log group, so reruns find their own statement."""
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", self.log_group).strip("-")
        return f"cloudwatch-logs-{slug}"[:100]


def default_filter_name(shipper: FunctionArn) -> str:
    """The filter's name when --filter-name is not given."""
    return f"logs-to-{shipper.name}"


def resolve_function(lambda_client: Any, name_or_arn: str, role: str, stage: str | None) -> FunctionArn:
    """The function's unqualified ARN from lambda get_function; a missing function says to deploy first."""
    try:
        answer = lambda_client.get_function(FunctionName=name_or_arn)
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            region = lambda_client.meta.region_name
            hint = DEPLOY_FIRST.format(stage=stage or "STAGE")
            raise SetupError(f"the {role} function {name_or_arn} does not exist in {region}: {hint}") from None
        raise
    return FunctionArn.parse(str(answer["Configuration"]["FunctionArn"]))


def find_log_group(logs: Any, name: str) -> dict[str, Any] | None:
    """The log group's description, or None when it does not exist."""
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name):
        for group in page.get("logGroups", []):
            if group.get("logGroupName") == name:
                return dict(group)
    return None


def did(dry_run: bool, verb: str, past: str) -> str:
    """ "would add" on a dry run, else "added"."""
    return f"would {verb}" if dry_run else past


def ensure_log_group(logs: Any, target: Target, dry_run: bool) -> str:
    """Create the log group and set its retention where needed; returns the report line."""
    group = find_log_group(logs, target.log_group)
    if group is None:
        if not dry_run:
            try:
                logs.create_log_group(logGroupName=target.log_group)
            except ClientError as err:
                if error_code(err) != "ResourceAlreadyExistsException":  # created meanwhile, e.g. by Lambda
                    raise
            logs.put_retention_policy(logGroupName=target.log_group, retentionInDays=target.retention_days)
        return (
            f"log group {target.log_group}: {did(dry_run, 'create', 'created')}, retention {target.retention_days} days"
        )
    current = group.get("retentionInDays")
    if current == target.retention_days:
        return f"log group {target.log_group}: present, retention {current} days"
    if not dry_run:
        logs.put_retention_policy(logGroupName=target.log_group, retentionInDays=target.retention_days)
    was = f"{current} days" if current else "never expire"
    change = did(dry_run, "set", "set")
    return f"log group {target.log_group}: present, {change} retention {was} -> {target.retention_days} days"


def policy_statements(lambda_client: Any, function: FunctionArn) -> list[dict[str, Any]]:
    """The statements of the function's resource-based policy ([] when it has none)."""
    try:
        answer = lambda_client.get_policy(FunctionName=str(function))
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return []
        raise
    return list(json.loads(answer["Policy"]).get("Statement", []))


def grants_invoke(statement: dict[str, Any], principal: str, source_arn: str) -> bool:
    """Whether the statement lets `principal` invoke the function for events from `source_arn`."""
    service = statement.get("Principal", {})
    services = service.get("Service") if isinstance(service, dict) else service
    services = [services] if isinstance(services, str) else list(services or [])
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else list(actions or [])
    condition = statement.get("Condition", {}).get("ArnLike", {})
    return (
        statement.get("Effect") == "Allow"
        and principal in services
        and bool({"lambda:InvokeFunction", "lambda:*"} & set(actions))
        and condition.get("AWS:SourceArn") == source_arn
    )


def ensure_invoke_permission(lambda_client: Any, target: Target, dry_run: bool) -> str:
    """Let CloudWatch Logs invoke the shipper for this log group; returns the report line."""
    label = f"permission {target.principal} -> {target.shipper.name} for {target.log_group}"
    statements = policy_statements(lambda_client, target.shipper)
    for statement in statements:
        if grants_invoke(statement, target.principal, target.log_group_arn):
            return f"{label}: present (statement {statement.get('Sid')})"
    stale = any(s.get("Sid") == target.statement_id for s in statements)
    if not dry_run:
        if stale:  # our statement id, but granting something else (another region or log group ARN)
            lambda_client.remove_permission(FunctionName=str(target.shipper), StatementId=target.statement_id)
        try:
            lambda_client.add_permission(
                FunctionName=str(target.shipper),
                StatementId=target.statement_id,
                Action="lambda:InvokeFunction",
                Principal=target.principal,
                SourceArn=target.log_group_arn,
                SourceAccount=target.shipper.account,
            )
        except ClientError as err:
            if error_code(err) != "ResourceConflictException":
                raise
            return f"{label}: present (statement {target.statement_id} added by another run)"
    change = did(dry_run, "replace", "replaced") if stale else did(dry_run, "add", "added")
    return f"{label}: {change} statement {target.statement_id}"


def ensure_subscription_filter(logs: Any, target: Target, dry_run: bool, group_exists: bool = True) -> str:
    """Create or update the subscription filter; returns the report line."""
    label = f"subscription filter {target.filter_name} on {target.log_group}"
    filters = []
    if group_exists:
        answer = logs.describe_subscription_filters(logGroupName=target.log_group)
        filters = list(answer.get("subscriptionFilters", []))
    others = [f for f in filters if f["filterName"] != target.filter_name]
    duplicate = [f["filterName"] for f in others if f.get("destinationArn") == str(target.shipper)]
    if duplicate:
        raise SetupError(
            f"{target.log_group} already sends events to {target.shipper.name} through filter {duplicate[0]!r}; "
            f"a second filter would ship every line twice: pass --filter-name {duplicate[0]} to manage that one, "
            f"or delete it (aws logs delete-subscription-filter --log-group-name {target.log_group} "
            f"--filter-name {duplicate[0]})"
        )
    mine = next((f for f in filters if f["filterName"] == target.filter_name), None)
    wanted = f"pattern '{target.filter_pattern}' -> {target.shipper}"
    if (
        mine
        and mine.get("filterPattern") == target.filter_pattern
        and mine.get("destinationArn") == str(target.shipper)
    ):
        return f"{label}: present ({wanted})"
    if not dry_run:
        try:
            logs.put_subscription_filter(
                logGroupName=target.log_group,
                filterName=target.filter_name,
                filterPattern=target.filter_pattern,
                destinationArn=str(target.shipper),
            )
        except ClientError as err:
            if error_code(err) != "LimitExceededException":
                raise
            names = ", ".join(f["filterName"] for f in others)
            raise SetupError(
                f"{target.log_group} has the most subscription filters CloudWatch Logs allows ({names}): "
                f"delete one, or pass --filter-name with one of those names to replace it"
            ) from None
    if mine is None:
        return f"{label}: {did(dry_run, 'create', 'created')} ({wanted})"
    was = f"pattern '{mine.get('filterPattern')}' -> {mine.get('destinationArn')}"
    return f"{label}: {did(dry_run, 'update', 'updated')} ({was} => {wanted})"


def subscribe(logs: Any, lambda_client: Any, target: Target, dry_run: bool = False) -> list[str]:
    """Ensure log group, invoke permission and filter, in the order AWS needs (the filter's creation tests the
    permission); returns one report line each."""
    group_exists = dry_run is False or find_log_group(logs, target.log_group) is not None
    return [
        ensure_log_group(logs, target, dry_run),
        ensure_invoke_permission(lambda_client, target, dry_run),
        ensure_subscription_filter(logs, target, dry_run, group_exists=group_exists),
    ]


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.subscribe",
        description="Subscribe the API's CloudWatch log group to the log shipper Lambda (idempotent).",
    )
    parser.add_argument("--stage", help="Chalice stage: names the API and shipper functions from .chalice/config.json")
    parser.add_argument("--log-group", help="log group to subscribe (default /aws/lambda/<app>-<stage>)")
    parser.add_argument("--shipper-arn", help="the shipper Lambda's name or ARN (default <app>-<stage>-ship_logs)")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / the profile's)")
    parser.add_argument("--endpoint-url", help="one endpoint for the Logs and Lambda APIs (a local stand-in)")
    parser.add_argument("--filter-name", help="subscription filter name (default logs-to-<shipper name>)")
    parser.add_argument("--lines", choices=sorted(LINES), default=DEFAULT_LINES, help="which lines to ship")
    parser.add_argument("--filter-pattern", help="a CloudWatch Logs filter pattern (overrides --lines)")
    parser.add_argument("--retention-days", type=int, help="log group retention (default: from the Chalice config)")
    parser.add_argument("--dry-run", action="store_true", help="read the current state, print what would change")
    return parser


def run(args: argparse.Namespace) -> list[str]:
    """Resolve names and ARNs, then subscribe; raises SetupError/ConfigError or botocore errors."""
    names = stage_names(args.stage) if args.stage else None
    session = boto3.session.Session(region_name=args.region)
    region = session.region_name
    if not region:
        raise SetupError("no AWS region: pass --region (REGION= for make), or set AWS_REGION / AWS_DEFAULT_REGION")
    logs = session.client("logs", endpoint_url=args.endpoint_url)
    lambda_client = session.client("lambda", endpoint_url=args.endpoint_url)
    log_group, shipper_ref = args.log_group, args.shipper_arn
    if names is not None:
        resolve_function(lambda_client, names.api_function, "API", args.stage)  # its log group is the one to subscribe
        log_group, shipper_ref = log_group or names.log_group, shipper_ref or names.shipper_function
    if not log_group or not shipper_ref:
        raise SetupError("pass --stage, or both --log-group and --shipper-arn")
    shipper = resolve_function(lambda_client, shipper_ref, "shipper", args.stage)
    if shipper.region != region:
        raise SetupError(f"the shipper is in {shipper.region}, the log group in {region}: they must share a region")
    retention = args.retention_days or (names.retention_days if names else DEFAULT_RETENTION_DAYS)
    target = Target(
        log_group=log_group,
        retention_days=check_retention(retention),
        shipper=shipper,
        filter_name=args.filter_name or default_filter_name(shipper),
        filter_pattern=LINES[args.lines] if args.filter_pattern is None else args.filter_pattern,
    )
    return subscribe(logs, lambda_client, target, dry_run=args.dry_run)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: 0 when the subscription is in place (or the dry run could read everything), 1 on errors."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.stage and not (args.log_group and args.shipper_arn):
        parser.error("pass --stage, or both --log-group and --shipper-arn")
    try:
        lines = run(args)
    except (SetupError, ConfigError) as err:
        print(f"subscribe: error: {err}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as err:
        print(f"subscribe: error: {explain(err)}", file=sys.stderr)
        return 1
    prefix = "[dry run] " if args.dry_run else ""
    for line in lines:
        print(prefix + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
