"""`make push`: put the Lambda image that `make image` built into a registry and print its immutable digest.

The local image `IMAGE_NAME:<model version>` (the bundle manifest's `model_version`) is pushed to
`<registry>/<repository>` under two tags: the git commit of the working tree (`<sha>`, or `<sha>-dirty` when tracked
files have uncommitted changes, so a tag never claims a commit it does not match) and the model version. Both pushes
must give one manifest digest; the reference `<registry>/<repository>@sha256:...` is printed as the last line of
standard output (and written to --digest-file). Deploys use that reference, not a tag: a tag can be moved, a digest
names the bytes. One image per commit: when the registry already has the commit's tag (a rerun of a release), its
digest is reused and nothing is pushed (a `-dirty` revision is always pushed).

Registries:
- Amazon ECR (default): the account's registry in the region of the credentials (or --region). The repository must
  exist (docs/delivery.md creates it). Login uses a 12-hour token from `ecr.get_authorization_token`, handed to
  `docker login --password-stdin` inside a temporary DOCKER_CONFIG directory that is deleted afterwards: the password
  never appears on a command line, in ~/.docker/config.json or in a log.
- --registry HOST:PORT: a plain registry such as a local `docker-registry` (Docker treats 127.0.0.0/8 as insecure,
  i.e. plain HTTP, by default), pushed to without login.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from chalice_app.chalicelib.contract.manifest import BundleError, load_manifest
from infra.aws_errors import ACCESS_DENIED, SetupError, error_code, explain

ROOT = Path(__file__).resolve().parents[1]
DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)
LOOPBACK = ("127.", "localhost", "[::1]")
CHECK_REGISTRY = "check REGISTRY=host:port (or REGION= for ECR), that the registry runs, and the network"
UNREACHABLE = ("connection refused", "no such host", "i/o timeout", "network is unreachable", "dial tcp")
REFUSED = ("unauthorized", "authentication required", "no basic auth credentials", "denied")
IMMUTABLE = ("already exists", "cannot be overwritten", "immutable")


class PushError(SetupError):
    """The push cannot go on; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Credentials:
    """A registry login. The password is left out of repr() so that it cannot reach a log by accident."""

    registry: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Docker:
    """The docker CLI with the environment it runs in (DOCKER_HOST, DOCKER_CONFIG, ...)."""

    binary: str = "docker"
    env: dict[str, str] | None = None

    def run(self, *args: str, stdin: str | None = None, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        """Run `docker ARGS` and return the finished process (never raises on a non-zero exit)."""
        return subprocess.run(
            [self.binary, *args], input=stdin, env=self.env, capture_output=True, text=True, timeout=timeout
        )


def model_version_of(bundle: Path) -> str:
    """The bundle's model version (its manifest's `model_version`)."""
    try:
        version = load_manifest(bundle).get("model_version")
    except BundleError as err:
        raise PushError(f"{err}; the image is tagged with the bundle's model version") from None
    if not isinstance(version, str) or not version:
        raise PushError(f"{bundle}/manifest.json has no model_version: re-export the bundle (make export)")
    return version


def git_revision(root: Path = ROOT) -> str:
    """HEAD's commit sha, with `-dirty` appended when tracked files differ from it."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    if head.returncode != 0:
        raise PushError(f"cannot read the git commit of {root} ({head.stderr.strip()}): push from a git checkout")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
    )
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def image_tags(revision: str, model_version: str) -> list[str]:
    """The tags an image gets in the registry: the git revision and the model version."""
    return [revision, model_version]


LAMBDA_PLATFORM = "linux/amd64"
"""What the deploy template's functions run on (x86_64): an image built for another platform (an arm64 build on
Apple Silicon) would be refused by Lambda at deploy time, after the push."""


def require_local_image(docker: Docker, image: str, platform: str = LAMBDA_PLATFORM) -> None:
    """Fail with what to run when the image is not in the local engine (or no engine answers), or is built for
    another platform than the functions run on."""
    if shutil.which(docker.binary) is None:
        raise PushError(f"'{docker.binary}' not found: install Docker (the push needs a Docker CLI and engine)")
    found = docker.run("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", image, timeout=60)
    if found.returncode == 0:
        built = found.stdout.strip()
        if built != platform:
            raise PushError(
                f"image {image} is built for {built}, the Lambda functions run on {platform}: rebuild it with "
                f"`make image ARCH={platform.split('/')[-1]}` (or deploy with ARCH={built.split('/')[-1]})"
            )
        return
    if "no such image" in found.stderr.lower():
        raise PushError(f"image {image} is not in the local Docker engine: run `make image` first (same BUNDLE)")
    raise PushError(f"cannot ask the Docker engine about {image}: {found.stderr.strip()}")


def ecr_credentials(ecr: Any, repository: str) -> Credentials:
    """The account registry's host and a temporary login, after checking that `repository` exists.

    The check is skipped when the caller may not describe repositories (the push itself then says what is wrong).
    """
    try:
        ecr.describe_repositories(repositoryNames=[repository])
    except ClientError as err:
        if error_code(err) == "RepositoryNotFoundException":
            raise PushError(
                f"ECR repository {repository} does not exist in {ecr.meta.region_name}: create it once "
                "(docs/delivery.md, 'ECR repository') or pass REPOSITORY=<name> / REGION=<region>"
            ) from None
        if error_code(err) not in ACCESS_DENIED:
            raise PushError(str(explain(err))) from None
    except BotoCoreError as err:
        raise PushError(str(explain(err))) from None
    try:
        data = ecr.get_authorization_token()["authorizationData"][0]
    except (ClientError, BotoCoreError) as err:
        raise PushError(str(explain(err))) from None
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    registry = urlparse(data["proxyEndpoint"]).netloc or data["proxyEndpoint"]
    return Credentials(registry=registry, username=username, password=password)


def ecr_digest(ecr: Any, repository: str, tag: str) -> str | None:
    """The digest of the image `tag` names in an ECR repository; None when no image has that tag."""
    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    except ClientError as err:
        if error_code(err) == "ImageNotFoundException":
            return None
        raise PushError(str(explain(err))) from None
    except BotoCoreError as err:
        raise PushError(str(explain(err))) from None
    return str(details[0]["imageDigest"]) if details else None


def registry_digest(registry: str, repository: str, tag: str) -> str | None:
    """The manifest digest `tag` names in a registry without login (registry HTTP API); None when absent.

    Loopback registries speak plain HTTP (as Docker assumes for 127.0.0.0/8), others HTTPS.
    """
    scheme = "http" if registry.startswith(LOOPBACK) else "https"
    request = urllib.request.Request(f"{scheme}://{registry}/v2/{repository}/manifests/{tag}", method="HEAD")
    request.add_header("Accept", MANIFEST_TYPES)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            digest = answer.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise PushError(f"registry {registry} answered {err.code} for {repository}:{tag}: {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise PushError(f"registry {registry} is unreachable ({err}): {CHECK_REGISTRY}") from None
    return str(digest) if digest else None


@contextmanager
def logged_in(docker: Docker, credentials: Credentials | None) -> Iterator[Docker]:
    """A Docker whose DOCKER_CONFIG is a fresh private directory holding this login only; deleted on exit.

    The engine is kept: a DOCKER_HOST is taken from the current docker context when none is set, since the fresh
    configuration has no contexts of its own.
    """
    if credentials is None:
        yield docker
        return
    env = dict(docker.env if docker.env is not None else os.environ)
    if "DOCKER_HOST" not in env:
        context = docker.run("context", "inspect", "--format", "{{.Endpoints.docker.Host}}", timeout=30)
        if context.returncode == 0 and context.stdout.strip():
            env["DOCKER_HOST"] = context.stdout.strip()
    config_dir = tempfile.mkdtemp(prefix="cola-docker-config-")  # mode 0700
    env["DOCKER_CONFIG"] = config_dir
    private = Docker(docker.binary, env)
    try:
        login = private.run(
            "login", "--username", credentials.username, "--password-stdin", credentials.registry,
            stdin=credentials.password, timeout=120,
        )  # fmt: skip
        if login.returncode != 0:
            raise PushError(explain_push_failure(credentials.registry, login.stderr, "log in to"))
        yield private
    finally:
        shutil.rmtree(config_dir, ignore_errors=True)


def explain_push_failure(registry: str, stderr: str, verb: str = "push to") -> str:
    """A message for a failed docker login/push: unreachable, refused, immutable tag, or docker's own words."""
    text = stderr.strip()
    lowered = text.lower()
    if any(marker in lowered for marker in UNREACHABLE):
        return f"registry {registry} is unreachable ({text}): {CHECK_REGISTRY}"
    if "http response to https client" in lowered:
        return (
            f"registry {registry} speaks plain HTTP but the Docker engine expects HTTPS: add it to the engine's "
            f"insecure-registries (127.0.0.0/8 is there by default) ({text})"
        )
    if any(marker in lowered for marker in IMMUTABLE):
        return (
            f"a tag already exists in {registry} and the repository's tags are immutable ({text}): a commit is "
            "pushed once; commit your change (or push another one) instead of re-pushing"
        )
    if any(marker in lowered for marker in REFUSED):
        return (
            f"registry {registry} refused to let this caller {verb} it ({text}): for ECR the role needs "
            "ecr:GetAuthorizationToken and the push actions on the repository (docs/delivery.md)"
        )
    return f"docker could not {verb} {registry}: {text}"


def push_tags(docker: Docker, source: str, target: str, tags: Sequence[str]) -> str:
    """Tag `source` as target:TAG for each tag, push each, and return the one manifest digest they share."""
    registry = target.split("/", 1)[0]
    digests: dict[str, str] = {}
    for tag in tags:
        reference = f"{target}:{tag}"
        tagged = docker.run("tag", source, reference, timeout=60)
        if tagged.returncode != 0:
            raise PushError(f"docker tag {source} {reference} failed: {tagged.stderr.strip()}")
        try:
            pushed = docker.run("push", reference)
        finally:
            docker.run("image", "rm", "--no-prune", reference, timeout=60)  # untag only; the image stays
        if pushed.returncode != 0:
            raise PushError(explain_push_failure(registry, pushed.stderr or pushed.stdout))
        found = DIGEST.findall(pushed.stdout)
        if not found:
            raise PushError(f"docker push {reference} printed no digest: {pushed.stdout.strip()[-500:]}")
        digests[tag] = found[-1]
        print(f"pushed {reference} ({digests[tag]})", file=sys.stderr)
    if len(set(digests.values())) != 1:
        raise PushError(f"the tags of one image got different digests: {digests}")
    return next(iter(digests.values()))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.push", description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, required=True, help="the bundle the image was built from")
    parser.add_argument("--image-name", default="cola-acceptability", help="local image name (make image's)")
    parser.add_argument("--repository", default="cola-acceptability", help="repository in the registry")
    parser.add_argument("--registry", help="HOST:PORT of a plain registry (no login); default: ECR")
    parser.add_argument("--region", help="ECR region (default: AWS_REGION / AWS_DEFAULT_REGION / profile)")
    parser.add_argument("--endpoint-url", help="ECR API endpoint (tests: a moto server)")
    parser.add_argument("--docker", default="docker", help="docker CLI")
    parser.add_argument("--digest-file", type=Path, help="also write the pushed reference repo@sha256:... here")
    parser.add_argument("--platform", default=LAMBDA_PLATFORM, help="what the functions run on (make's linux/ARCH)")
    return parser.parse_args(argv)


def ecr_client(args: argparse.Namespace) -> Any:
    """A boto3 ECR client for --region / --endpoint-url (credentials from the environment, profile or role)."""
    import boto3

    return boto3.client("ecr", region_name=args.region, endpoint_url=args.endpoint_url)


def main(argv: Sequence[str] | None = None) -> int:
    """Push; print the digest reference last. Exit 1 with a message on any failure the user can fix."""
    args = parse_args(argv)
    docker = Docker(args.docker)
    try:
        version = model_version_of(args.bundle)
        revision = git_revision()
        if revision.endswith("-dirty"):
            print(f"warning: tracked files have uncommitted changes; tagging the image as {revision}", file=sys.stderr)
        ecr = None if args.registry else ecr_client(args)
        credentials = None if ecr is None else ecr_credentials(ecr, args.repository)
        target = f"{credentials.registry if credentials else args.registry}/{args.repository}"
        # One image per commit: a rerun of a release finds the commit's image and reuses it (its tags are immutable).
        existing = None
        if not revision.endswith("-dirty"):
            if ecr is not None:
                existing = ecr_digest(ecr, args.repository, revision)
            else:
                existing = registry_digest(args.registry, args.repository, revision)
        if existing:
            print(f"{target}:{revision} exists already ({existing}): not pushing it again", file=sys.stderr)
            digest = existing
        else:
            source = f"{args.image_name}:{version}"
            require_local_image(docker, source, args.platform)
            with logged_in(docker, credentials) as session:
                digest = push_tags(session, source, target, image_tags(revision, version))
    except SetupError as err:
        print(f"push: {err}", file=sys.stderr)
        return 1
    reference = f"{target}@{digest}"
    if args.digest_file:
        args.digest_file.parent.mkdir(parents=True, exist_ok=True)
        args.digest_file.write_text(reference + "\n")
    print(reference)
    return 0


if __name__ == "__main__":
    sys.exit(main())
