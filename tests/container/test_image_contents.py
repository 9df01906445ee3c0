"""What the Lambda image carries: only what its runtime imports, within the size budget of conf/image.yaml.

The session image (tests/container/conftest.py: `make image` on a debootstrap Debian slim base) is opened three
ways: scripts/package_probe.py runs inside it (health, predict and log shipping through the app, as the zip's probe
does) and reports the top-level packages imported from /opt/python; the runtime client's bootstrap and a Secrets
Manager client (the shipper's ES_API_KEY_SECRET_ID path) are imported the same way; `find` lists every file the
image adds. Each top-level package the image carries must be one of those imports, and no file may match a
forbidden pattern (tests, headers, static libraries, stubs, ONNX Runtime's unused C API library).
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.prune_package import LICENSE_FILE
from tests.conftest import ROOT
from tests.container.conftest import docker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIG = yaml.safe_load((ROOT / "conf" / "image.yaml").read_text())
SITE = "/opt/python"
TASK = "/var/task"
# The runtime client's bootstrap (what `python3 -m awslambdaric` loads before the handler), its SnapStart hooks
# (imported when Lambda initialises a SnapStart snapshot) and the shipper's secret path (boto3.client on
# "secretsmanager", a service model from the pruned botocore data).
ENTRY_AND_SECRET_PATH = f"""
import json, sys
from pathlib import Path
import awslambdaric.bootstrap
import awslambdaric.lambda_runtime_hooks_runner
import boto3
boto3.client("secretsmanager", region_name="us-east-1")
root = Path("{SITE}")
names = {{n.split(".")[0] for n, m in list(sys.modules.items())
         if getattr(m, "__file__", None) and Path(m.__file__).resolve().is_relative_to(root)}}
print(json.dumps(sorted(names)))
"""


def run_in(image: str, env: dict[str, str], *args: str, mounts: tuple[str, ...] = ()) -> str:
    """stdout of `args` in a fresh container of `image` run as Lambda runs it (read-only root, no network)."""
    volumes = [arg for mount in mounts for arg in ("-v", mount)]
    return docker(
        "run", "--rm", "--network=none", "--read-only", "--tmpfs", "/tmp", *volumes, "--entrypoint", args[0], image,
        *args[1:], env=env,
    ).stdout  # fmt: skip


@pytest.fixture(scope="module")
def imported(docker_env: dict[str, str], lambda_image: str) -> set[str]:
    """Top-level packages the runtime imports from /opt/python: serving, shipping, its bootstrap, the secret path."""
    probe = run_in(
        lambda_image, docker_env, "python3", "/probe/package_probe.py", TASK, SITE,
        mounts=(f"{ROOT / 'scripts'}:/probe:ro",),
    )  # fmt: skip
    line = next(ln for ln in probe.splitlines() if ln.startswith("PROBE "))
    result: dict[str, Any] = json.loads(line.removeprefix("PROBE "))
    assert result["predict_status"] == 200, result
    assert result["ship_created"] == result["ship_stored"] == 2, result
    entry = json.loads(run_in(lambda_image, docker_env, "python3", "-c", ENTRY_AND_SECRET_PATH).strip())
    return set(result["imported_from_site"]) | set(entry)


@pytest.fixture(scope="module")
def added_files(docker_env: dict[str, str], lambda_image: str) -> list[str]:
    """Every file the image adds (its dependencies and its task root), as absolute paths."""
    listing = run_in(lambda_image, docker_env, "find", SITE, TASK, "-type", "f")
    return sorted(line for line in listing.splitlines() if line)


def top_level(files: list[str]) -> set[str]:
    """Importable top-level names under /opt/python (packages and single modules; metadata and .libs excluded)."""
    names = set()
    for path in files:
        first = Path(path).relative_to(SITE).parts[0] if path.startswith(SITE + "/") else None
        if first is None or first.endswith((".dist-info", ".libs")) or first == "__pycache__":
            continue  # *.libs: the wheels' vendored shared libraries, loaded by their extension modules
        names.add(first.split(".")[0])
    return names


def test_it_carries_only_packages_its_runtime_imports(imported: set[str], added_files: list[str]) -> None:
    carried = top_level(added_files)
    assert {"onnxruntime", "numpy", "tokenizers", "chalice", "awslambdaric"} <= carried
    assert carried - imported == set(), "carried but never imported: prune them (scripts/prune_package.py)"


def test_no_training_world_package_or_installer_is_carried(added_files: list[str]) -> None:
    assert top_level(added_files) & set(CONFIG["forbidden_packages"]) == set()


def test_no_file_matches_a_forbidden_pattern(added_files: list[str]) -> None:
    files = [path for path in added_files if not LICENSE_FILE.search(path.rsplit("/", 1)[-1])]  # licences stay
    bad = [path for path in files if any(fnmatch.fnmatch(path, p) for p in CONFIG["forbidden_paths"])]
    assert bad == [], bad[:20]


def test_every_module_is_precompiled_once(added_files: list[str]) -> None:
    pycs: dict[str, list[str]] = {}
    for path in added_files:
        if path.endswith(".pyc"):
            source_dir, _, name = path.rpartition("/__pycache__/")
            pycs.setdefault(f"{source_dir}/{name.split('.')[0]}.py", []).append(path)
    sources = [path for path in added_files if path.endswith(".py")]
    assert sources
    assert [s for s in sources if len(pycs.get(s, [])) != 1] == []  # the root is read-only: none can be written later
    assert [p for p in pycs if p not in set(sources)] == []  # no bytecode without its source


def test_the_image_fits_the_size_budget(docker_env: dict[str, str], lambda_image: str) -> None:
    size_mb = json.loads(docker("image", "inspect", lambda_image, env=docker_env).stdout)[0]["Size"] / 1e6
    print(f"image size: {size_mb:.0f} MB (budget {CONFIG['size_budget_mb']} MB, Debian slim test base included)")
    assert size_mb <= CONFIG["size_budget_mb"]
