"""A DVC stage's deps must cover every repository module its command imports: the checker, on a small repository.

The real pipeline is checked in tests/integration/test_dvc_pipeline.py; here a throw-away repository (a Makefile,
a dvc.yaml, a few packages) shows what the walk follows and that a gap fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.stage_deps import StageDepsError, entry_modules, import_closure, load_stages, missing_deps


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "Makefile": "PY := python\nrun:\n\t$(PY) -m pkg.main --out x\n",
            "pkg/__init__.py": "",
            "pkg/main.py": "from pkg import helper\nfrom .sub.deep import thing\nimport json\n",
            "pkg/helper.py": "def f():\n    from chalice_app.chalicelib.api import predictor\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/deep.py": "from ..unused_by_main import *\nthing = 1\n",
            "pkg/unused_by_main.py": "",
            "pkg/never_imported.py": "",
            "chalice_app/chalicelib/__init__.py": "",
            "chalice_app/chalicelib/api/__init__.py": "",
            "chalice_app/chalicelib/api/predictor.py": "from chalicelib.contract import manifest\n",
            "chalice_app/chalicelib/contract/__init__.py": "",
            "chalice_app/chalicelib/contract/manifest.py": "",
            "conf/model.yaml": "_target_: pkg.never_imported.Model\n",
        },
    )
    return tmp_path


def stage(deps: list[str]) -> dict[str, object]:
    return {"cmd": "make --no-print-directory run", "deps": deps}


def test_the_walk_follows_absolute_relative_function_level_and_chalicelib_imports(repo: Path) -> None:
    files = {str(p.relative_to(repo)) for p in import_closure(entry_modules("make run", repo), repo)}
    assert files == {
        "pkg/__init__.py",
        "pkg/main.py",
        "pkg/helper.py",
        "pkg/sub/__init__.py",
        "pkg/sub/deep.py",
        "pkg/unused_by_main.py",
        "chalice_app/chalicelib/__init__.py",
        "chalice_app/chalicelib/api/__init__.py",
        "chalice_app/chalicelib/api/predictor.py",
        "chalice_app/chalicelib/contract/__init__.py",
        "chalice_app/chalicelib/contract/manifest.py",
    }  # json is the standard library's; never_imported is not reached


def test_a_directory_dep_covers_its_files_and_a_gap_is_named(repo: Path) -> None:
    assert missing_deps(stage(["pkg", "chalice_app/chalicelib"]), repo) == []
    assert missing_deps(stage(["pkg", "chalice_app/chalicelib/api"]), repo) == [
        "chalice_app/chalicelib/__init__.py",
        "chalice_app/chalicelib/contract/__init__.py",
        "chalice_app/chalicelib/contract/manifest.py",
    ]


def test_hydra_targets_in_the_stage_conf_deps_count_as_imports(repo: Path) -> None:
    code = ["pkg/main.py", "pkg/helper.py", "pkg/sub", "pkg/unused_by_main.py", "chalice_app"]
    assert missing_deps(stage(code), repo) == ["pkg/__init__.py"]
    assert missing_deps(stage(["conf", *code]), repo) == ["pkg/__init__.py", "pkg/never_imported.py"]


def test_a_stage_that_is_not_a_make_target_is_refused(repo: Path) -> None:
    with pytest.raises(StageDepsError, match="not a make target"):
        missing_deps({"cmd": "python -m pkg.main", "deps": []}, repo)


def test_stages_resolve_the_pipeline_vars(repo: Path) -> None:
    pipeline = "vars:\n  - name: main\nstages:\n  s:\n    cmd: make run\n    deps:\n      - pkg/${name}.py\n"
    write(repo, {"dvc.yaml": pipeline})
    assert load_stages(repo)["s"]["deps"] == ["pkg/main.py"]
