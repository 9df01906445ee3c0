"""`make subscribe`: send the API's log lines from CloudWatch Logs to the log shipper Lambda.

What the filter invokes (the destination): the shipper's alias `live` (--alias, SHIPPER_ALIAS= for make), the
alias the container deploy (infra/deploy_template.py) publishes each version behind and shifts with CodeDeploy
canaries, so log shipping takes the same guarded path as the API. Where the alias does not exist (a `chalice deploy`
zip deploy has none) the destination is the unqualified function, and the first line printed says so; --alias ''
asks for the unqualified function.

Each run then makes three things true, changing only what differs, and prints one line per thing:
1. the API function's log group exists, with a retention policy (Chalice's `log_retention_in_days` of the stage
   in .chalice/config.json, else 30 days; --retention-days overrides);
2. CloudWatch Logs may invoke the destination for that log group: a statement in the resource-based policy of that
   qualifier (principal logs.<region>.amazonaws.com, SourceArn the log group's ARN, SourceAccount its account);
3. a subscription filter on the log group sends matching events to the destination (updated in place when its
   pattern or destination differ).
When the destination changed (unqualified <-> alias), our statement on the previous one is removed last, after the
filter no longer uses it.

Which lines the filter sends (--lines, LINES= for make; --filter-pattern sets any pattern):
- all (default, pattern ""): every event of the API function. The shipper routes each line to its family of indices
  (contract/index_fields.py): prediction lines to `predictions-*`, Lambda's START/END/REPORT lines to `platform-*`
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

from chalice_app.chalicelib.contract.log_line import ERROR_TYPE, PREDICTION_TYPE
from infra.aws_errors import SetupError, error_code, explain
from infra.chalice_names import DEFAULT_RETENTION_DAYS, ConfigError, check_retention, stage_names
from infra.deploy_template import TemplateOptions

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
DEFAULT_ALIAS = TemplateOptions.alias
"""The alias the container deploy routes each function's traffic through (AutoPublishAlias)."""
ALIAS_NAME = re.compile(r"(?!\d+$)[A-Za-z0-9_-]{1,128}")
"""Lambda's rule for alias names; all digits would be a version, which every deploy leaves behind."""


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


def qualified_arn(function: FunctionArn, qualifier: str) -> str:
    """The function's ARN with `:qualifier`, or unqualified when the qualifier is ""."""
    return f"{function}:{qualifier}" if qualifier else str(function)


def qualifier_args(qualifier: str) -> dict[str, str]:
    """Lambda API keyword arguments that address the qualifier ("" addresses the unqualified function)."""
    return {"Qualifier": qualifier} if qualifier else {}


def check_alias(alias: str) -> str:
    """`alias` when it can name a Lambda alias ("" means unqualified), else a SetupError saying what to pass."""
    if alias and not ALIAS_NAME.fullmatch(alias):
        raise SetupError(
            f"--alias {alias!r} is not an alias name (1-128 letters, digits, - or _, not only digits: a version "
            f"would pin the shipper to one deploy): pass --alias {DEFAULT_ALIAS}, or --alias '' for the unqualified "
            "function"
        )
    return alias


@dataclass(frozen=True)
class Target:
    """What to subscribe: a log group, its retention, and the filter that sends its events to the shipper's alias
    (or, with alias "", to the unqualified function)."""

    log_group: str
    retention_days: int
    shipper: FunctionArn
    filter_name: str
    filter_pattern: str = FILTER_PATTERN
    alias: str = ""

    @property
    def destination(self) -> str:
        """The ARN the filter invokes and the permission is granted on."""
        return qualified_arn(self.shipper, self.alias)

    @property
    def destination_name(self) -> str:
        """`name:alias` or `name`, for report lines."""
        return f"{self.shipper.name}:{self.alias}" if self.alias else self.shipper.name

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


def resolve_alias(lambda_client: Any, shipper: FunctionArn, alias: str) -> tuple[str, str]:
    """The qualifier to target ("" when no alias is asked for or it does not exist) and the report line."""
    if not alias:
        return "", f"shipper target {shipper}: the unqualified function (no alias asked for)"
    try:
        answer = lambda_client.get_alias(FunctionName=str(shipper), Name=alias)
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        return "", (
            f"shipper target {shipper}: alias {alias} of {shipper.name} does not exist (a `chalice deploy` zip "
            f"deploy has none, the container deploy creates it), so the filter targets the unqualified function"
        )
    return alias, f"shipper target {qualified_arn(shipper, alias)}: alias {alias} (version {answer['FunctionVersion']})"


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


def policy_statements(lambda_client: Any, function: FunctionArn, qualifier: str = "") -> list[dict[str, Any]]:
    """The statements of the resource-based policy of the function's qualifier ([] when it has none)."""
    try:
        answer = lambda_client.get_policy(FunctionName=str(function), **qualifier_args(qualifier))
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return []
        raise
    arn = qualified_arn(function, qualifier)
    # Each qualifier has its own policy, whose statements name its ARN as Resource; keeping only those also keeps a
    # stand-in that shares one policy between qualifiers (moto) from mixing them up.
    return [s for s in json.loads(answer["Policy"]).get("Statement", []) if s.get("Resource", arn) == arn]


def grants_invoke(statement: dict[str, Any], principal: str, source_arn: str) -> bool:
    """Whether the statement lets `principal` invoke the function (or qualifier) for events from `source_arn`."""
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
    """Let CloudWatch Logs invoke the destination for this log group; returns the report line."""
    label = f"permission {target.principal} -> {target.destination_name} for {target.log_group}"
    statements = policy_statements(lambda_client, target.shipper, target.alias)
    for statement in statements:
        if grants_invoke(statement, target.principal, target.log_group_arn):
            return f"{label}: present (statement {statement.get('Sid')})"
    stale = any(s.get("Sid") == target.statement_id for s in statements)
    if not dry_run:
        if stale:  # our statement id, but granting something else (another region or log group ARN)
            lambda_client.remove_permission(
                FunctionName=str(target.shipper), StatementId=target.statement_id, **qualifier_args(target.alias)
            )
        try:
            lambda_client.add_permission(
                FunctionName=str(target.shipper),
                **qualifier_args(target.alias),
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


def retire_invoke_permission(lambda_client: Any, target: Target, qualifier: str, dry_run: bool) -> str | None:
    """Remove our statement for this log group from a qualifier the filter no longer targets; returns the report
    line, or None when there is none to remove."""
    statements = policy_statements(lambda_client, target.shipper, qualifier)
    if not any(
        s.get("Sid") == target.statement_id and grants_invoke(s, target.principal, target.log_group_arn)
        for s in statements
    ):
        return None
    if not dry_run:
        try:
            lambda_client.remove_permission(
                FunctionName=str(target.shipper), StatementId=target.statement_id, **qualifier_args(qualifier)
            )
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":  # removed meanwhile
                raise
    old = f"{target.shipper.name}:{qualifier}" if qualifier else target.shipper.name
    change = did(dry_run, "remove", "removed")
    return (
        f"permission {target.principal} -> {old} for {target.log_group}: {change} statement {target.statement_id} "
        f"(the filter targets {target.destination_name} now)"
    )


def previous_qualifiers(target: Target, filters: list[dict[str, Any]]) -> list[str]:
    """Qualifiers of the shipper that may hold our statement from an earlier target: the one the filter pointed at,
    and the unqualified function when the target is an alias (the destination before there was an alias)."""
    candidates = [""] if target.alias else []
    for subscription in filters:
        match = LAMBDA_ARN.match(str(subscription.get("destinationArn", "")))
        if subscription["filterName"] == target.filter_name and match and is_shipper(match, target.shipper):
            candidates.append(match["qualifier"] or "")
    return sorted({q for q in candidates if q != target.alias})


def is_shipper(match: re.Match[str], shipper: FunctionArn) -> bool:
    """Whether a LAMBDA_ARN match names the shipper function (any qualifier)."""
    return FunctionArn(match["partition"], match["region"], match["account"], match["name"]) == shipper


def subscription_filters(logs: Any, log_group: str, group_exists: bool = True) -> list[dict[str, Any]]:
    """The log group's subscription filters ([] when it does not exist yet)."""
    if not group_exists:
        return []
    return list(logs.describe_subscription_filters(logGroupName=log_group).get("subscriptionFilters", []))


def ensure_subscription_filter(logs: Any, target: Target, dry_run: bool, filters: list[dict[str, Any]]) -> str:
    """Create or update the subscription filter, given the log group's current `filters`; returns the report line."""
    label = f"subscription filter {target.filter_name} on {target.log_group}"
    others = [f for f in filters if f["filterName"] != target.filter_name]
    duplicate = [
        f["filterName"]
        for f in others
        if (match := LAMBDA_ARN.match(str(f.get("destinationArn", "")))) and is_shipper(match, target.shipper)
    ]
    if duplicate:
        raise SetupError(
            f"{target.log_group} already sends events to {target.shipper.name} through filter {duplicate[0]!r}; "
            f"a second filter would ship every line twice: pass --filter-name {duplicate[0]} to manage that one, "
            f"or delete it (aws logs delete-subscription-filter --log-group-name {target.log_group} "
            f"--filter-name {duplicate[0]})"
        )
    mine = next((f for f in filters if f["filterName"] == target.filter_name), None)
    wanted = f"pattern '{target.filter_pattern}' -> {target.destination}"
    if mine and mine.get("filterPattern") == target.filter_pattern and mine.get("destinationArn") == target.destination:
        return f"{label}: present ({wanted})"
    if not dry_run:
        try:
            logs.put_subscription_filter(
                logGroupName=target.log_group,
                filterName=target.filter_name,
                filterPattern=target.filter_pattern,
                destinationArn=target.destination,
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
    permission), then retire the permission of an earlier destination; returns one report line each."""
    lines = [ensure_log_group(logs, target, dry_run)]
    group_exists = not dry_run or find_log_group(logs, target.log_group) is not None
    filters = subscription_filters(logs, target.log_group, group_exists)
    lines.append(ensure_invoke_permission(lambda_client, target, dry_run))
    lines.append(ensure_subscription_filter(logs, target, dry_run, filters))
    for qualifier in previous_qualifiers(target, filters):
        retired = retire_invoke_permission(lambda_client, target, qualifier, dry_run)
        if retired:
            lines.append(retired)
    return lines


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.subscribe",
        description="Subscribe the API's CloudWatch log group to the log shipper Lambda (idempotent).",
    )
    parser.add_argument("--stage", help="Chalice stage: names the API and shipper functions from .chalice/config.json")
    parser.add_argument("--log-group", help="log group to subscribe (default /aws/lambda/<app>-<stage>)")
    parser.add_argument(
        "--shipper-arn", help="the shipper Lambda's unqualified name or ARN (default <app>-<stage>-ship_logs)"
    )
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / the profile's)")
    parser.add_argument("--endpoint-url", help="one endpoint for the Logs and Lambda APIs (a local stand-in)")
    parser.add_argument(
        "--alias",
        default=DEFAULT_ALIAS,
        help=f"the shipper's alias to target (default {DEFAULT_ALIAS}; unqualified when it does not exist; '' for "
        "the unqualified function)",
    )
    parser.add_argument("--filter-name", help="subscription filter name (default logs-to-<shipper name>)")
    parser.add_argument("--lines", choices=sorted(LINES), default=DEFAULT_LINES, help="which lines to ship")
    parser.add_argument("--filter-pattern", help="a CloudWatch Logs filter pattern (overrides --lines)")
    parser.add_argument("--retention-days", type=int, help="log group retention (default: from the Chalice config)")
    parser.add_argument("--dry-run", action="store_true", help="read the current state, print what would change")
    return parser


def check_unqualified(shipper_ref: str) -> None:
    """A SetupError when the shipper's name or ARN carries a qualifier: --alias chooses it."""
    match = LAMBDA_ARN.match(shipper_ref)
    if match:
        qualifier = match["qualifier"]
    else:  # a function name, `name:qualifier`, or a malformed ARN that resolve_function reports
        plain_name = not shipper_ref.startswith("arn:") and ":" in shipper_ref
        qualifier = shipper_ref.rsplit(":", 1)[1] if plain_name else None
    if qualifier:
        unqualified = shipper_ref.rsplit(":", 1)[0]
        raise SetupError(
            f"--shipper-arn {shipper_ref} names the qualifier {qualifier!r}: pass the function's unqualified name or "
            f"ARN ({unqualified}) and the alias with --alias {qualifier}"
        )


def run(args: argparse.Namespace) -> list[str]:
    """Resolve names and ARNs, then subscribe; raises SetupError/ConfigError or botocore errors."""
    names = stage_names(args.stage) if args.stage else None
    alias = check_alias(args.alias)
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
    check_unqualified(shipper_ref)
    shipper = resolve_function(lambda_client, shipper_ref, "shipper", args.stage)
    if shipper.region != region:
        raise SetupError(f"the shipper is in {shipper.region}, the log group in {region}: they must share a region")
    qualifier, destination = resolve_alias(lambda_client, shipper, alias)
    retention = args.retention_days or (names.retention_days if names else DEFAULT_RETENTION_DAYS)
    target = Target(
        log_group=log_group,
        retention_days=check_retention(retention),
        shipper=shipper,
        filter_name=args.filter_name or default_filter_name(shipper),
        filter_pattern=LINES[args.lines] if args.filter_pattern is None else args.filter_pattern,
        alias=qualifier,
    )
    return [destination, *subscribe(logs, lambda_client, target, dry_run=args.dry_run)]


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
