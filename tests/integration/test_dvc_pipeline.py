"""dvc.yaml stays in step with the Makefile and the repository, and DVC's experiment tools work on it.

Each stage must run a Makefile target, so `dvc repro` and `make` execute the same commands; every dependency must
exist (or be produced by an earlier stage); outputs must sit where training and export write them; `dvc dag` and
`dvc status` must accept the file; .dvc/config must hold no credentials. Experiments: `dvc exp run -S training.lr=..`
must reach a real setting of the composed config (queued in a throw-away clone, nothing trains), and `dvc metrics
show` / `dvc plots show` must read what a real (smoke) training run writes.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from omegaconf import DictConfig, OmegaConf

from devtools import stage_deps
from tests.conftest import ROOT

DVC = [sys.executable, "-m", "dvc"]
# Stage → (Makefile target, the Python command `make -n` must show for it).
EXPECTED = {
    "train": ("train", "-m model_training.train model={encoder} run_name={run}"),
    "export": ("export", "-m export.build model={encoder} run_name={run}"),
    "evaluate": ("evaluate-bundle", "-m export.evaluate artifacts/bundles/{run} dev=data/cola/raw/in_domain_dev.tsv"),
    "teacher_train": ("teacher-train", "-m model_training.train model={teacher} run_name={teacher}"),
    "teacher_export": ("export", "-m export.build model={teacher} run_name={teacher}"),
    "distill": ("distill", "-m model_training.distill model={encoder} run_name={student}"),
    "student_export": ("export", "-m export.build model={encoder} run_name={student}"),
    "student_evaluate": (
        "evaluate-bundle",
        "-m export.evaluate artifacts/bundles/{student} dev=data/cola/raw/in_domain_dev.tsv",
    ),
    "served": ("served-choice", "-m model_training.select_served --student {student} --plain {run}"),
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
    assert list(pipeline["stages"]) == list(EXPECTED)


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


@pytest.mark.parametrize("stage", list(EXPECTED))
def test_stage_deps_cover_every_repository_module_its_command_imports(stage: str) -> None:
    """A module a stage runs but does not depend on would let `dvc repro` skip a stage whose result changed."""
    stages = stage_deps.load_stages()
    assert stage_deps.missing_deps(stages[stage]) == []
    assert len(stage_deps.stage_files(stages[stage])) >= 2  # the walk found the entry module and what it imports


def test_the_served_stage_is_the_pipeline_sink_the_release_reads() -> None:
    """`make all` writes artifacts/served-run; the `served` stage outputs that file from the runs and bundles that
    the other stages produce, and `make pull-served` (the release) pulls it, then that run's bundle."""
    pipeline, variables = load_pipeline()
    served = pipeline["stages"]["served"]
    assert paths(served["outs"], variables) == ["artifacts/served-run"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^SERVED_FILE := artifacts/served-run$", makefile, flags=re.MULTILINE)
    candidates = {variables["student"], variables["run"]}
    assert {f"artifacts/bundles/{run}" for run in candidates} <= set(paths(served["deps"], variables))
    assert {f"artifacts/runs/{run}/metrics.json" for run in candidates} <= set(paths(served["deps"], variables))
    dry = subprocess.run(
        ["make", "-n", "pull-served", "STAMP=", "REMOTE=s3"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True,
    ).stdout  # fmt: skip
    assert "dvc pull -r s3 served" in dry
    assert "dvc pull -r s3 artifacts/bundles/$(cat artifacts/served-run)" in dry
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "make pull-served REMOTE=s3" in release
    assert "distilled-minilm" not in release  # the run comes from dvc.lock's served stage, not from the workflow


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
    assert "served" in dag.stdout
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


def dvc(cwd: Path, *args: str, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DVC, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def knobs(params: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every leaf of params.yaml."""
    paths: list[str] = []
    for key, value in params.items():
        paths += knobs(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
    return paths


def test_train_stage_takes_its_knobs_from_params_yaml() -> None:
    pipeline, variables = load_pipeline()
    train = pipeline["stages"]["train"]
    assert "PARAMS=params.yaml" in shlex.split(train["cmd"])
    assert any(isinstance(p, dict) and "params.yaml" in p and p["params.yaml"] is None for p in train["params"])
    dry_run = subprocess.run(
        [*shlex.split(resolve(train["cmd"], variables)), "-n", "STAMP="],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "-m model_training.experiment_params params.yaml" in dry_run


def test_every_params_yaml_knob_is_a_setting_of_the_composed_config(
    compose_config: Callable[..., DictConfig],
) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    cfg = compose_config()
    paths = knobs(params)
    assert "training.lr" in paths
    missing = [path for path in paths if OmegaConf.select(cfg, path, default="<missing>") == "<missing>"]
    assert missing == []


@pytest.mark.integration
def test_dvc_exp_run_set_param_is_parsed_and_recorded(tmp_path: Path) -> None:
    """`dvc exp run -S training.lr=3e-5` queued in a clone of the repository: DVC accepts the knob and records it."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    for name in ("dvc.yaml", "params.yaml", "Makefile"):  # this checkout's versions, committed or not
        shutil.copy(ROOT / name, clone / name)
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "wip", "--allow-empty"],
        cwd=clone, check=True,
    )  # fmt: skip
    dry = dvc(clone, "exp", "run", "--dry", "-S", "training.lr=3e-5", "train")
    assert dry.returncode == 0, dry.stderr
    assert "make --no-print-directory train MODEL=minilm RUN=minilm ARGS= PARAMS=params.yaml" in dry.stdout
    queued = dvc(clone, "exp", "run", "--queue", "-S", "training.lr=3e-5", "-S", "model.dropout=0.1", "-n", "lr3e5")
    assert queued.returncode == 0, queued.stderr
    shown = dvc(clone, "exp", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    experiments = [
        rev for row in json.loads(shown.stdout) for exp in row.get("experiments") or [] for rev in exp["revs"]
    ]
    params = next(rev["data"]["params"]["params.yaml"]["data"] for rev in experiments if rev.get("name") == "lr3e5")
    assert params["training"]["lr"] == pytest.approx(3e-5)
    assert params["model"]["dropout"] == pytest.approx(0.1)
    bad = dvc(clone, "exp", "run", "--queue", "-S", "training.no_such_knob=1")
    assert bad.returncode != 0  # only the knobs params.yaml names can be set


@pytest.mark.integration
@pytest.mark.slow
def test_metrics_and_plots_read_what_a_training_run_writes(smoke_export: Any, tmp_path: Path) -> None:
    """A real smoke run's files where dvc.yaml expects them, in a throw-away DVC repository."""
    _, variables = load_pipeline()
    repo = tmp_path / "repo"
    run_dir = repo / "artifacts" / "runs" / variables["run"]
    shutil.copytree(smoke_export.run_dir, run_dir, ignore=shutil.ignore_patterns("checkpoints", "model", "wandb"))
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, repo / name)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    assert dvc(repo, "init", "-q").returncode == 0

    metrics = dvc(repo, "metrics", "show", "--json")
    assert metrics.returncode == 0, metrics.stderr
    written = json.loads((run_dir / "metrics.json").read_text())
    (workspace,) = json.loads(metrics.stdout).values()  # one revision: the workspace
    shown = workspace["data"][f"artifacts/runs/{variables['run']}/metrics.json"]["data"]
    assert shown["best"]["val_mcc"] == pytest.approx(written["best"]["val_mcc"])

    plots = dvc(repo, "plots", "show", "--json")
    assert plots.returncode == 0, plots.stderr
    rendered = json.loads(plots.stdout)
    assert not [e for e in rendered.get("errors") or [] if "history.csv" in json.dumps(e)], rendered["errors"]
    epochs = len(written["history"])
    for plot_id, fields in (("validation quality", 3), ("losses", 2)):
        (plot,) = rendered["data"][plot_id]
        values = plot["content"]["data"]["values"]
        assert len(values) == epochs * fields  # one point per epoch and metric
    curves = [d for name, data in rendered["data"].items() if name.endswith(".png") for d in data]
    assert {d["type"] for d in curves} == {"image"}
    assert len(curves) == 2  # training_curves.png and confusion_matrix.png


@pytest.mark.integration
def test_the_served_stage_runs_and_locks_what_the_release_pulls(tmp_path: Path) -> None:
    """`dvc repro served` in a clone, on finished runs and bundles written here (nothing trains): the stage writes
    the winner to artifacts/served-run, dvc.lock records it with the candidates' hashes, and `dvc status` is clean."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    for name in ("dvc.yaml", "Makefile", "model_training/select_served.py"):  # this checkout's versions
        shutil.copy(ROOT / name, clone / name)
    (clone / ".venv").symlink_to((ROOT / ".venv").resolve())
    for requirements in (clone / "requirements").glob("*.txt"):  # older than .venv's stamp: make keeps the venv
        os.utime(requirements, (0, 0))
    _, variables = load_pipeline()
    student, plain = variables["student"], variables["run"]
    for run, mcc in ((student, 0.45), (plain, 0.40)):
        run_dir = clone / "artifacts" / "runs" / run
        run_dir.mkdir(parents=True)
        metrics = {"best": {"val_mcc": mcc}, "machine": {"fingerprint": "fp-test"}}
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
        bundle = clone / "artifacts" / "bundles" / run
        bundle.mkdir(parents=True)
        (bundle / "manifest.json").write_text(json.dumps({"model_version": f"v-{run}"}))
    repro = dvc(clone, "repro", "--single-item", "served", timeout=300)
    assert repro.returncode == 0, repro.stderr + repro.stdout
    assert (clone / "artifacts" / "served-run").read_text().strip() == student
    lock = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]["served"]
    assert [out["path"] for out in lock["outs"]] == ["artifacts/served-run"]
    locked_deps = {dep["path"] for dep in lock["deps"]}
    assert {f"artifacts/bundles/{student}", f"artifacts/bundles/{plain}"} <= locked_deps
    status = dvc(clone, "status", "served")
    assert status.returncode == 0, status.stderr
    assert "changed" not in status.stdout, status.stdout
