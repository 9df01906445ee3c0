"""docs/delivery.md (the delivery guide with its runbook) stays runnable: every `aws` command names a real operation
and real parameters, the names it uses are the ones infra/iam and the workflows use, and the repository paths it
points to exist.

No AWS call is made: botocore's service models (the same ones AWS CLI v2 is generated from) say which operations
and parameters exist. The JSON documents inside the commands are parsed where they are plain JSON.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from infra import iam
from tests.conftest import ROOT

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
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w[:3]))
def test_every_aws_command_is_a_real_operation_with_real_parameters(words: list[str]) -> None:
    service, command = words[1], words[2]
    if (service, "*") in CLI_ONLY or (service, command) in CLI_ONLY:
        return
    _, parameters = operation_and_parameters(service, command)
    flags = {word.split("=", 1)[0] for word in words[3:] if word.startswith("--")}
    assert flags - parameters - CLI_OPTIONS == set(), f"unknown parameters of aws {service} {command}"


@pytest.mark.parametrize(
    "option",
    ["--server-side-encryption-configuration", "--lifecycle-configuration", "--lifecycle-policy-text"],
)
def test_json_documents_in_commands_parse(option: str) -> None:
    for words in COMMANDS:
        if option in words:
            json.loads(words[words.index(option) + 1])
            return
    pytest.fail(f"no command passes {option}")


def test_role_names_are_the_ones_infra_iam_creates() -> None:
    roles = json.loads((ROOT / "infra" / "iam" / "roles.json").read_text())["roles"]
    suffixes = {role["name"].removeprefix("<APP>-<STAGE>-") for role in roles.values()}
    teardown = re.search(r"for role in ([\w\s-]+?); do", RUNBOOK)
    assert teardown is not None
    assert set(teardown.group(1).split()) == suffixes
    assert "role/$APP-$stage-deploy" in RUNBOOK  # the deploy role's name in AWS_DEPLOY_ROLE_ARN
    assert any(role["name"] == "<APP>-<STAGE>-deploy" for role in roles.values())


def test_github_variables_set_here_are_the_ones_the_release_reads() -> None:
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    read = set(re.findall(r"vars\.([A-Z_]+)", release))
    set_here = set(re.findall(r"gh variable set ([A-Z_]+)", RUNBOOK))
    assert read <= set_here


def test_oidc_subject_matches_the_release_environments() -> None:
    trust = (ROOT / "infra" / "iam" / "github-oidc-trust-policy.json").read_text()
    assert "repo:<GITHUB_REPO>:environment:<STAGE>" in trust
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert re.findall(r"^\s+environment: (\w+)$", release, flags=re.MULTILINE) == ["dev", "prod"]


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


def test_role_policies_come_from_files_not_inline_json() -> None:
    documents = [words[words.index("--policy-document") + 1] for words in COMMANDS if "--policy-document" in words]
    assert documents
    assert all(document.startswith("file://") for document in documents), documents


def test_the_ecr_push_command_is_the_one_the_dev_render_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runbook shows the dev deploy role's push rights; `python -m infra.iam render` (run as the runbook runs
    it, --out artifacts/iam/dev) prints the same command and writes the file it reads."""
    (shown,) = [words for words in COMMANDS if "ecr-push" in words]
    assert re.search(r'--out "artifacts/iam/\$stage"', RUNBOOK)
    monkeypatch.chdir(tmp_path)
    values = iam.stage_values("dev", account_id="123456789012", region="eu-west-1", github_repo="acme/cola")
    values |= {"DVC_BUCKET": "acme-dvc", "ECR_REPOSITORY": "cola-acceptability", "ES_SECRET_NAME": "cola-es"}
    printed = [shlex.split(c) for c in iam.render_stage(Path("artifacts/iam/dev"), values) if "ecr-push" in c]
    assert [[word.replace("$APP", values["APP"]) for word in shown]] == printed
    assert (tmp_path / "artifacts/iam/dev/deploy-ecr-push-policy.json").is_file()
