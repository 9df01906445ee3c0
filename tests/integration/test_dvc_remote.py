"""DVC push/pull through a real S3-compatible server (moto server), as `make remote-s3` / `dvc-push` / `dvc-pull` run.

Everything happens in a temporary git+DVC repository holding a small fake bundle, so the project's own .dvc/cache
and remotes are never touched. The moto server listens on a free loopback port chosen at run time, readiness is
polled over HTTP, and it is stopped by its PID. Credentials are dummies passed through the environment only.

What moto cannot exercise (real AWS behaviours these tests do not cover):
- authentication: moto accepts any access key and signature, so InvalidAccessKeyId, SignatureDoesNotMatch,
  ExpiredToken and IAM/bucket-policy AccessDenied never happen; here "bad target" is a bucket that does not exist;
- credential sources beyond environment variables: AWS profiles, SSO, STS assume-role, instance metadata;
- region handling: PermanentRedirect/301 for a bucket in another region, region-specific endpoints;
- server-side encryption with KMS keys, object lock, requester-pays, throttling (SlowDown/503) and retries under
  load, real network latency and large multipart uploads.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.moto_server import MotoServer, dummy_aws_env, moto_server
from devtools.processes import free_port
from tests.conftest import ROOT

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server", reason="moto[server] is a dev requirement")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VENV = Path(sys.executable).parent.parent
# STAMP= : the temporary repository has no requirements/ for the venv stamp rule to depend on.
MAKE = ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), f"VENV={VENV}", "STAMP="]
DVC = [sys.executable, "-m", "dvc"]
BUCKET = "cola-dvc-test"


def sha256_tree(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under root."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def aws_env(tmp_path: Path) -> dict[str, str]:
    """Dummy credentials from the environment only; no profile, config file or instance metadata is consulted."""
    return {**dummy_aws_env(tmp_path), "DVC_NO_ANALYTICS": "1"}


@pytest.fixture
def s3_server(tmp_path: Path, aws_env: dict[str, str]) -> Iterator[MotoServer]:
    with moto_server(tmp_path, aws_env) as server:
        yield server


def run(
    cmd: list[str], cwd: Path, env: dict[str, str], check: bool = True, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def dvc_repo(tmp_path: Path, aws_env: dict[str, str]) -> Path:
    """A git+DVC repository tracking a small fake bundle directory with `dvc add`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    run(["git", "init", "-q"], repo, aws_env)
    run([*DVC, "init", "-q"], repo, aws_env)
    run([*DVC, "config", "core.analytics", "false"], repo, aws_env)
    bundle = repo / "artifacts" / "bundles" / "fake"
    (bundle / "extra").mkdir(parents=True)
    rng = bytes(range(256))
    (bundle / "model.onnx").write_bytes(hashlib.sha256(b"fp32").digest() * 8192 + rng)  # ~256 KiB
    (bundle / "model.int8.onnx").write_bytes(hashlib.sha256(b"int8").digest() * 2048)
    (bundle / "tokenizer.json").write_text('{"version": "1.0", "model": {"type": "WordPiece"}}\n')
    (bundle / "manifest.json").write_text('{"schema_version": 1, "model_version": "fake-0001"}\n')
    (bundle / "extra" / "notes.txt").write_text("nested file\n")
    run([*DVC, "add", "-q", "artifacts/bundles/fake"], repo, aws_env)
    run(["git", "add", "-A"], repo, aws_env)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "base"], repo, aws_env)
    return repo


def add_s3_remote(repo: Path, env: dict[str, str], bucket: str, endpoint: str) -> None:
    """What a user runs: `make remote-s3 BUCKET=... ENDPOINT=... DEFAULT=1` (the project's Makefile target)."""
    tracked = (repo / ".dvc" / "config").read_text()
    run([*MAKE, "remote-s3", f"BUCKET={bucket}", f"ENDPOINT={endpoint}", "DEFAULT=1"], repo, env)
    # The remote goes to the untracked config.local: a release that adds it leaves the tree clean (a dirty tree
    # would make `make push` tag <sha>-dirty, and a rerun would then hit ECR's immutable tags).
    assert (repo / ".dvc" / "config").read_text() == tracked
    assert run(["git", "status", "--porcelain"], repo, env).stdout == ""
    config = (repo / ".dvc" / "config.local").read_text()
    assert f"s3://{bucket}/cola" in config
    assert f"endpointurl = {endpoint}" in config
    assert "testing" not in config, "credentials must come from the environment, never a DVC config file"


def test_push_then_pull_restores_identical_files(
    dvc_repo: Path, s3_server: MotoServer, aws_env: dict[str, str]
) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket=BUCKET)
    add_s3_remote(dvc_repo, aws_env, BUCKET, s3_server.endpoint)
    bundle = dvc_repo / "artifacts" / "bundles" / "fake"
    before = sha256_tree(bundle)
    assert len(before) == 5

    run([*MAKE, "dvc-push"], dvc_repo, aws_env)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="cola/").get("Contents", [])]
    assert len(keys) >= len(before) + 1, keys  # every file plus the directory listing (.dir) object

    shutil.rmtree(dvc_repo / ".dvc" / "cache")
    shutil.rmtree(bundle)
    run([*MAKE, "dvc-pull", "REMOTE=s3"], dvc_repo, aws_env)
    assert sha256_tree(bundle) == before
    status = run([*DVC, "status", "-c", "-r", "s3"], dvc_repo, aws_env)
    assert "in sync" in status.stdout, status.stdout


def test_push_to_endpoint_without_server_fails_clearly(dvc_repo: Path, aws_env: dict[str, str]) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # bound then released: nothing listens there
    add_s3_remote(dvc_repo, aws_env, BUCKET, endpoint)
    started = time.monotonic()
    result = run([*DVC, "push"], dvc_repo, aws_env, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # e.g. ERROR: unexpected error - Could not connect to the endpoint URL: "http://127.0.0.1:PORT/BUCKET/cola/..."
    assert "ERROR" in output, output
    assert "Could not connect to the endpoint URL" in output, output
    assert endpoint in output, output
    assert time.monotonic() - started < 150


def test_push_to_missing_bucket_fails_clearly(dvc_repo: Path, s3_server: MotoServer, aws_env: dict[str, str]) -> None:
    # moto accepts any credentials, so the "wrong target" case here is a bucket that does not exist.
    add_s3_remote(dvc_repo, aws_env, "no-such-bucket", s3_server.endpoint)
    result = run([*DVC, "push"], dvc_repo, aws_env, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # e.g. ERROR: unexpected error - The specified bucket does not exist: An error occurred (NoSuchBucket) ...
    assert "ERROR" in output, output
    assert "NoSuchBucket" in output, output
