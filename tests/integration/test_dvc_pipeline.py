"""dvc.yaml stays in step with the Makefile and the repository (fast: no training, no network).

Each stage must run a Makefile target, so `dvc repro` and `make` execute the same commands; every dependency must
exist (or be produced by an earlier stage); outputs must sit where training and export write them; `dvc dag` and
`dvc status` must accept the file; .dvc/config must hold no credentials.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

DVC = [sys.executable, "-m", "dvc"]
# Stage → (Makefile target, the Python command `make -n` must show for it).
EXPECTED = {
    "train": ("train", "-m model_training.train model={model} run_name={run}"),
    "export": ("export", "-m export.build model={model} run_name={run}"),
    "evaluate": ("evaluate-bundle", "-m export.evaluate artifacts/bundles/{run} dev=data/cola/raw/in_domain_dev.tsv"),
}


def load_pipeline() -> tuple[dict[str, Any], dict[str, str]]:
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    variables: dict[str, str] = {}
    for entry in pipeline.get("vars", []):
        variables.update(entry)
    return pipeline, variables


def resolve(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: str(variables[m.group(1)]), value)


def paths(entries: list[Any], variables: dict[str, str]) -> list[str]:
    """Paths of deps/outs/metrics/plots entries (plain strings or one-key mappings with options)."""
    return [resolve(e if isinstance(e, str) else next(iter(e)), variables) for e in entries or []]


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-zA-Z0-9_.-]+):(?!=)", text, flags=re.MULTILINE))


def test_stages_and_their_order() -> None:
    pipeline, _ = load_pipeline()
    assert list(pipeline["stages"]) == ["train", "export", "evaluate"]


@pytest.mark.parametrize("stage", list(EXPECTED))
def test_stage_runs_the_makefile_target(stage: str) -> None:
    pipeline, variables = load_pipeline()
    cmd = shlex.split(resolve(pipeline["stages"][stage]["cmd"], variables))
    target, python_cmd = EXPECTED[stage]
    assert cmd[0] == "make", cmd
    assert target in cmd, cmd
    assert target in makefile_targets()
    # ARGS/FILES pinned empty: the environment cannot change what the stage computes behind dvc.lock's back.
    assert "ARGS=" in cmd or "FILES=" in cmd
    dry_run = subprocess.run(
        [*cmd, "-n", "STAMP="], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert python_cmd.format(**variables) in dry_run, dry_run


def test_every_dependency_exists_or_is_produced_upstream() -> None:
    pipeline, variables = load_pipeline()
    produced: set[str] = set()
    for name, stage in pipeline["stages"].items():
        for dep in paths(stage.get("deps", []), variables):
            assert (ROOT / dep).exists() or dep in produced, f"{name}: missing dependency {dep}"
        for params in stage.get("params", []):
            for params_file in params if isinstance(params, dict) else ["params.yaml"]:
                assert (ROOT / resolve(params_file, variables)).is_file(), f"{name}: missing params {params_file}"
        for key in ("outs", "metrics", "plots"):
            produced.update(paths(stage.get(key, []), variables))


def test_outputs_match_the_documented_layout() -> None:
    pipeline, variables = load_pipeline()
    run = variables["run"]
    config = yaml.safe_load((ROOT / "conf" / "config.yaml").read_text())
    assert config["hydra"]["run"]["dir"] == "artifacts/runs/${run_name}"
    train = pipeline["stages"]["train"]
    assert {f"artifacts/runs/{run}/model", f"artifacts/runs/{run}/checkpoints"} <= set(paths(train["outs"], variables))
    assert paths(train["metrics"], variables) == [f"artifacts/runs/{run}/metrics.json"]
    assert paths(pipeline["stages"]["export"]["outs"], variables) == [f"artifacts/bundles/{run}"]
    assert paths(pipeline["stages"]["evaluate"]["metrics"], variables) == [f"artifacts/bundles/{run}-evaluation.json"]


def test_dvc_accepts_the_pipeline() -> None:
    dag = subprocess.run([*DVC, "dag", "--md"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert dag.returncode == 0, dag.stderr
    assert "train" in dag.stdout
    assert "export" in dag.stdout
    assert "evaluate" in dag.stdout
    status = subprocess.run([*DVC, "status"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr


def test_dvc_config_has_a_local_default_remote_and_no_secrets() -> None:
    config = (ROOT / ".dvc" / "config").read_text()
    assert re.search(r"^\s*remote = local$", config, flags=re.MULTILINE)
    assert "url = ../artifacts/dvc-remote" in config
    for secret in ("access_key_id", "secret_access_key", "session_token", "password"):
        assert secret not in config, f".dvc/config must not hold {secret}: use `dvc remote modify --local` or env"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "artifacts/dvc-remote"], cwd=ROOT, capture_output=True, timeout=30
    )
    assert ignored.returncode == 0, "the local remote must not be tracked by git"
