"""docs/delivery.md (the delivery guide with its runbook) stays runnable: every `aws` command names a real operation
and real parameters, nothing is created by hand that the bootstrap stacks create, the outputs and stacks it names
are the bootstrap templates' ones, the variables it sets are the ones the workflows read, and the repository paths
it points to exist.

No AWS call is made: botocore's service models (the same ones AWS CLI v2 is generated from) say which operations
and parameters exist.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from infra.bootstrap_template import shared_stack_name, shared_template, stage_stack_name, stage_template
from tests.conftest import ROOT
from tests.support.chalice_sam import APP

RUNBOOK = (ROOT / "docs" / "delivery.md").read_text()
CLI_OPTIONS = {"--region", "--output", "--query", "--profile", "--endpoint-url", "--no-cli-pager"}
CLI_ONLY = {("s3", "*"), ("cloudformation", "wait"), ("ecr", "get-login-password")}
SERVICE_OF_CLI = {"s3api": "s3"}  # AWS CLI command groups named unlike their botocore service
SEPARATORS = {";", "&&", "||", "|", "(", ")", "do", "done", "then", "fi", "&"}


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", RUNBOOK, flags=re.DOTALL)


def aws_commands() -> list[list[str]]:
    """Each `aws ...` command of the bash blocks and inline code, as its words (quotes resolved)."""
    sources = [block.replace("\\\n", " ") for block in bash_blocks()]
    sources += [span for span in re.findall(r"`([^`\n]+)`", RUNBOOK) if span.startswith("aws ")]
    commands = []
    for source in sources:
        lexer = shlex.shlex(source, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = list(lexer)
        for start in [i for i, word in enumerate(words) if word == "aws"]:
            end = next((j for j in range(start + 1, len(words)) if words[j] in SEPARATORS | {"aws"}), len(words))
            commands.append(words[start:end])
    return commands


def operation_and_parameters(service: str, command: str) -> tuple[str, set[str]]:
    """botocore's operation for a CLI command name and the CLI names of its parameters."""
    model = botocore.session.get_session().get_service_model(SERVICE_OF_CLI.get(service, service))
    by_cli_name = {xform_name(name).replace("_", "-"): name for name in model.operation_names}
    assert command in by_cli_name, f"aws {service} {command}: no such operation"
    operation = model.operation_model(by_cli_name[command])
    members = operation.input_shape.members if operation.input_shape else {}
    return operation.name, {"--" + xform_name(name).replace("_", "-") for name in members}


COMMANDS = aws_commands()


def test_the_runbook_has_aws_commands_to_check() -> None:
    assert len(COMMANDS) >= 12


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w[:3]))
def test_every_aws_command_is_a_real_operation_with_real_parameters(words: list[str]) -> None:
    service, command = words[1], words[2]
    if (service, "*") in CLI_ONLY or (service, command) in CLI_ONLY:
        return
    _, parameters = operation_and_parameters(service, command)
    flags = {word.split("=", 1)[0] for word in words[3:] if word.startswith("--")}
    assert flags - parameters - CLI_OPTIONS == set(), f"unknown parameters of aws {service} {command}"


def test_no_resource_is_created_by_hand() -> None:
    """Roles, policies, the OIDC provider, the bucket and the repository come from the bootstrap stacks."""
    by_hand = {
        "create-role",
        "put-role-policy",
        "create-open-id-connect-provider",
        "create-bucket",
        "create-repository",
    }
    assert [w[:3] for w in COMMANDS if w[2] in by_hand] == []
    assert "make bootstrap STAGE=" in RUNBOOK


def test_the_outputs_it_lists_are_the_bootstrap_stacks_outputs() -> None:
    stage, shared = stage_template(APP, "dev")["Outputs"], shared_template(APP)["Outputs"]
    table = re.findall(r"^\| (`[^|]+`) \|", RUNBOOK, flags=re.MULTILINE)
    listed = {name for cell in table for name in re.findall(r"`(\w+)`", cell)} - {"Output"}
    assert listed == set(stage) | set(shared)
    for key, output in re.findall(r"jq -r \.(stage|shared)\.(\w+)", RUNBOOK):
        assert output in (stage if key == "stage" else shared), output


def test_teardown_deletes_the_stacks_bootstrap_creates() -> None:
    deleted = {w[w.index("--stack-name") + 1] for w in COMMANDS if w[2] == "delete-stack" and "--stack-name" in w}
    assert {shared_stack_name("$APP"), stage_stack_name("$APP", "$stage"), "$APP-$stage"} == deleted


def test_make_bootstrap_gets_every_variable_its_usage_requires() -> None:
    makefile = (ROOT / "Makefile").read_text()
    usage = re.search(r"usage: make bootstrap ([^\"]+)", makefile)
    assert usage is not None
    required = {word.split("=")[0] for word in usage.group(1).split() if not word.startswith("[")}
    (call,) = set(re.findall(r"make bootstrap (STAGE=.*?)(?:#|$)", RUNBOOK.replace("\\\n", " "), flags=re.MULTILINE))
    assert required <= {word.split("=")[0] for word in call.split()}


def test_github_variables_set_here_are_the_ones_the_release_reads() -> None:
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    read = set(re.findall(r"vars\.([A-Z_]+)", release))
    set_here = set(re.findall(r"gh variable set ([A-Z_]+)", RUNBOOK))
    assert read <= set_here


def test_oidc_subject_matches_the_release_environments() -> None:
    """One environment of one repository per role (the bootstrap stack carries this document unchanged)."""
    trust = (ROOT / "infra" / "iam" / "github-oidc-trust-policy.json").read_text()
    assert "repo:<GITHUB_REPO>:environment:<STAGE>" in trust
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert set(re.findall(r"^\s+environment: (\w+)$", release, flags=re.MULTILINE)) == {"dev", "prod"}


def test_paths_it_points_to_exist() -> None:
    paths = set(re.findall(r"`((?:infra|\.github|docker|chalice_app)/[\w./-]+)`", RUNBOOK))
    assert paths
    assert [p for p in sorted(paths) if not (ROOT / p).exists()] == []


def test_make_targets_it_uses_exist() -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    used = set(re.findall(r"\bmake ([a-z][\w-]*)", RUNBOOK))
    assert used
    assert used - targets == set()


def test_no_secret_values_in_the_runbook() -> None:
    assert not re.search(r"AKIA[0-9A-Z]{16}", RUNBOOK)
    assert "aws_secret_access_key" not in RUNBOOK.lower()
    assert Path(ROOT / "docs" / "delivery.md").is_file()
