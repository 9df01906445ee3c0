"""Before a deploy: read the pushed image's manifest from its registry and refuse what Lambda would refuse.

`python -m infra.image_check IMAGE_URI [--arch amd64|arm64] [--bundle DIR]` (run by `make deploy`) speaks the
Registry HTTP API V2 (the OCI distribution spec, which ECR serves too): it GETs the manifest that IMAGE_URI names,
accepting the Docker and OCI manifest and index media types, checks that its bytes hash to the digest in the URI,
and refuses

- an image index / manifest list (what `docker buildx` makes by default with provenance attestations, or a
  multi-platform build): Lambda needs one single-platform image manifest;
- a config whose `os`/`architecture` differ from the functions' (`linux` and ARCH: amd64 = Lambda's x86_64).

Each refusal says how to rebuild (`make image ARCH=...`, which builds with --platform and no attestations, then
`make push`). On success it prints the image's `cola.model-version` label (the bundle baked into it), and with
--bundle it refuses an image whose label differs from that bundle's manifest, so a deploy never smoke-tests for
another model than the one it ships.

Registries: ECR (`<account>.dkr.ecr.<region>.amazonaws.com/...`) with basic auth from ecr:GetAuthorizationToken
(credentials from the environment, a profile or a role; the token is never printed), or HOST:PORT of a plain
registry without login (loopback: plain HTTP, as Docker assumes for 127.0.0.0/8).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice_app.chalicelib.contract.manifest import BundleError, load_manifest
from infra.deploy_template import LAMBDA_ARCHITECTURES as ARCHITECTURES
from infra.push import LOOPBACK, MANIFEST_TYPES, Credentials

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = frozenset({DOCKER_LIST, OCI_INDEX})
MODEL_LABEL = "cola.model-version"
REFERENCE = re.compile(r"^(?P<registry>[^/]+)/(?P<repository>[a-z0-9._/-]+)@(?P<digest>sha256:[0-9a-f]{64})$")
ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class ImageCheckError(Exception):
    """The image cannot be deployed as it is; str() says why and what to run."""


@dataclass(frozen=True)
class Reference:
    """registry/repository@sha256:digest."""

    registry: str
    repository: str
    digest: str


@dataclass(frozen=True)
class ImageFacts:
    """What the registry says about a single-platform image."""

    media_type: str
    os: str
    architecture: str
    labels: dict[str, str]


def parse_reference(uri: str) -> Reference:
    """An image reference by digest; a tag is refused (it can move between the check and the deploy)."""
    match = REFERENCE.match(uri)
    if not match:
        raise ImageCheckError(
            f"IMAGE_URI {uri!r} is not <registry>/<repository>@sha256:<64 hex>: deploy by digest, as `make push` "
            "prints it (artifacts/image-digest.txt)"
        )
    return Reference(match["registry"], match["repository"], match["digest"])


def rebuild_hint(arch: str) -> str:
    """The commands that give a deployable image."""
    return f"rebuild and push a single-platform image: `make image ARCH={arch} && make push` (then deploy its digest)"


class Registry:
    """A minimal Registry HTTP API V2 client (GET of manifests and blobs)."""

    def __init__(self, host: str, credentials: Credentials | None = None, timeout: float = 30.0) -> None:
        self.base = f"{'http' if host.startswith(LOOPBACK) else 'https'}://{host}/v2"
        self.host = host
        self.credentials = credentials
        self.timeout = timeout

    def get(self, path: str, accept: str | None = None) -> tuple[dict[str, str], bytes]:
        """GET base/path; an ImageCheckError names the registry's answer when it is not 200."""
        request = urllib.request.Request(f"{self.base}/{path}")
        if accept:
            request.add_header("Accept", accept)
        if self.credentials:
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return {k.lower(): v for k, v in answer.headers.items()}, answer.read()
        except urllib.error.HTTPError as err:
            if err.code == 404:
                missing = f"{self.host}/{path} does not exist: push the image first (`make push`)"
                raise ImageCheckError(missing) from None
            if err.code in (401, 403):
                raise ImageCheckError(
                    f"registry {self.host} refused to show {path} ({err.code}): for ECR the caller needs "
                    "ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the repository"
                ) from None
            raise ImageCheckError(f"registry {self.host} answered {err.code} for {path}: {err.reason}") from None
        except (urllib.error.URLError, OSError) as err:
            unreachable = f"registry {self.host} is unreachable ({err}): check the URI and the network"
            raise ImageCheckError(unreachable) from None


def _verified(body: bytes, digest: str, what: str) -> bytes:
    found = "sha256:" + hashlib.sha256(body).hexdigest()
    if found != digest:
        raise ImageCheckError(f"the registry's {what} hashes to {found}, not {digest}: the registry is not trustworthy")
    return body


def inspect(registry: Registry, reference: Reference, arch: str) -> ImageFacts:
    """Read the manifest and its config; refuse an index or another platform than linux/`arch`."""
    headers, body = registry.get(f"{reference.repository}/manifests/{reference.digest}", accept=MANIFEST_TYPES)
    _verified(body, reference.digest, "manifest")
    try:
        manifest: dict[str, Any] = json.loads(body)
    except json.JSONDecodeError:
        raise ImageCheckError(f"the manifest of {reference.digest} is not JSON") from None
    media_type = str(manifest.get("mediaType") or headers.get("content-type", "")).split(";")[0].strip()
    if media_type in INDEX_TYPES or "manifests" in manifest:
        platforms = [
            f"{m.get('platform', {}).get('os', '?')}/{m.get('platform', {}).get('architecture', '?')}"
            for m in manifest.get("manifests", [])
        ]
        raise ImageCheckError(
            f"{reference.registry}/{reference.repository}@{reference.digest} is an image index ({media_type}; "
            f"entries: {', '.join(platforms) or 'none'}), not an image: Lambda accepts only a single-platform image "
            "manifest. Docker buildx adds provenance/SBOM attestations as an index unless told not to; "
            + rebuild_hint(arch)
        )
    if media_type not in (DOCKER_MANIFEST, OCI_MANIFEST):
        raise ImageCheckError(f"unexpected manifest media type {media_type!r}: {rebuild_hint(arch)}")
    config_digest = str(manifest.get("config", {}).get("digest", ""))
    if not config_digest.startswith("sha256:"):
        raise ImageCheckError(f"the manifest of {reference.digest} names no config blob: {rebuild_hint(arch)}")
    _, config_body = registry.get(f"{reference.repository}/blobs/{config_digest}")
    config = json.loads(_verified(config_body, config_digest, "image config"))
    facts = ImageFacts(
        media_type=media_type,
        os=str(config.get("os", "")),
        architecture=str(config.get("architecture", "")),
        labels=dict((config.get("config") or {}).get("Labels") or {}),
    )
    if (facts.os, facts.architecture) != ("linux", arch):
        raise ImageCheckError(
            f"{reference.registry}/{reference.repository}@{reference.digest} is built for "
            f"{facts.os}/{facts.architecture}; the functions run on linux/{arch} (Lambda {ARCHITECTURES[arch]}): "
            + rebuild_hint(arch)
            + f", or deploy with ARCH={facts.architecture} if that is what the functions should run on"
            * (facts.architecture in ARCHITECTURES)
        )
    return facts


def ecr_login(host: str, endpoint_url: str | None = None) -> Credentials:
    """Basic-auth credentials for an ECR registry host (ecr:GetAuthorizationToken in the host's region)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.aws_errors import explain

    match = ECR_HOST.match(host)
    assert match
    try:
        data = boto3.client("ecr", region_name=match["region"], endpoint_url=endpoint_url).get_authorization_token()
    except (ClientError, BotoCoreError) as err:
        raise ImageCheckError(str(explain(err))) from None
    username, _, password = base64.b64decode(data["authorizationData"][0]["authorizationToken"]).decode().partition(":")
    return Credentials(host, username, password)


def expected_version(bundle: Path) -> str:
    try:
        return str(load_manifest(bundle)["model_version"])
    except BundleError as err:
        raise ImageCheckError(f"{err}; pass the BUNDLE the image was built from, or none") from None


def check(uri: str, arch: str, bundle: Path | None = None, endpoint_url: str | None = None) -> ImageFacts:
    """The whole check (see the module doc); returns what the registry says about the image."""
    if arch not in ARCHITECTURES:
        raise ImageCheckError(f"ARCH must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    reference = parse_reference(uri)
    credentials = ecr_login(reference.registry, endpoint_url) if ECR_HOST.match(reference.registry) else None
    facts = inspect(Registry(reference.registry, credentials), reference, arch)
    label = facts.labels.get(MODEL_LABEL)
    if bundle is not None and label != (wanted := expected_version(bundle)):
        raise ImageCheckError(
            f"the image carries model {label or '(no label)'}, BUNDLE {bundle} is {wanted}: deploy the image built "
            "from that bundle, or pass the bundle of this image"
        )
    if not label:
        raise ImageCheckError(f"the image has no {MODEL_LABEL} label (`make image` sets it): {rebuild_hint(arch)}")
    return facts


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: 0 and the model version on stdout when the image can be deployed; 1 with the reason otherwise."""
    parser = argparse.ArgumentParser(prog="python -m infra.image_check", description=__doc__.split("\n")[0])
    parser.add_argument("image_uri", help="registry/repository@sha256:... (make push's output)")
    parser.add_argument("--arch", default="amd64", help="what the functions run on: amd64 (x86_64) or arm64")
    parser.add_argument("--bundle", type=Path, help="the bundle the image must carry (its model_version)")
    parser.add_argument("--endpoint-url", help="ECR API endpoint for the token (tests)")
    args = parser.parse_args(argv)
    try:
        facts = check(args.image_uri, args.arch, args.bundle, args.endpoint_url)
    except ImageCheckError as err:
        print(f"image check: {err}", file=sys.stderr)
        return 1
    print(f"image check: {facts.media_type}, {facts.os}/{facts.architecture}: deployable", file=sys.stderr)
    print(facts.labels[MODEL_LABEL])
    return 0


if __name__ == "__main__":
    sys.exit(main())
