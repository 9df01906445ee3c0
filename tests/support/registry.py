"""A real registry for tests: Debian's `docker-registry` (the CNCF distribution registry) on a free loopback port,
plain HTTP (Docker treats 127.0.0.0/8 as insecure by default), with a private config and storage directory.

`push_image` uploads a hand-made image (config blob, then manifest) over the Registry HTTP API V2 as the
distribution spec describes it (POST an upload session, PUT the blob with its digest, PUT the manifest), so tests of
what a registry serves need no Docker engine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from devtools.processes import free_port, stop
from infra.push import MANIFEST_TYPES, Credentials


@dataclass
class Registry:
    """A running registry: its host:port and, when it requires one, the login."""

    address: str
    credentials: Credentials | None = None

    def request(
        self, path: str, method: str = "GET", body: bytes | None = None, content_type: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """An HTTP request to the registry API (with basic auth when the registry has a login)."""
        url = path if path.startswith("http") else f"http://{self.address}{path}"
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Accept", MANIFEST_TYPES)
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.credentials:
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
        with urllib.request.urlopen(request, timeout=10) as answer:
            return dict(answer.headers), answer.read()

    def get(self, path: str, method: str = "GET") -> tuple[dict[str, str], bytes]:
        return self.request(path, method)

    def manifest_digest(self, repository: str, reference: str) -> str:
        """Docker-Content-Digest of the manifest a tag or digest names."""
        headers, _ = self.get(f"/v2/{repository}/manifests/{reference}")
        return headers["Docker-Content-Digest"]

    def tags(self, repository: str) -> set[str]:
        _, body = self.get(f"/v2/{repository}/tags/list")
        return set(json.loads(body)["tags"])

    def put_blob(self, repository: str, data: bytes) -> str:
        """Upload a blob (monolithic: POST a session, PUT the bytes with their digest); returns the digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        headers, _ = self.request(f"/v2/{repository}/blobs/uploads/", method="POST", body=b"")
        location = urljoin(f"http://{self.address}/", headers["Location"])
        separator = "&" if "?" in location else "?"
        self.request(f"{location}{separator}digest={digest}", "PUT", data, "application/octet-stream")
        return digest

    def put_manifest(self, repository: str, reference: str, manifest: dict[str, Any], media_type: str) -> str:
        """PUT a manifest or index under a tag (or its digest); returns the digest the registry gives it."""
        body = json.dumps(manifest).encode()
        headers, _ = self.request(f"/v2/{repository}/manifests/{reference}", "PUT", body, media_type)
        return headers["Docker-Content-Digest"]


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def push_image(
    registry: Registry, repository: str, tag: str, *, architecture: str = "amd64", os: str = "linux",
    labels: dict[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """A one-layer OCI image for os/architecture with `labels`, pushed under `tag`; returns (digest, descriptor)."""
    layer = b"\x1f\x8b\x08\x00" + tag.encode()  # any bytes: the registry stores layers as they come
    layer_digest = registry.put_blob(repository, layer)
    config = json.dumps(
        {
            "architecture": architecture,
            "os": os,
            "config": {"Labels": labels or {}},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        }
    ).encode()
    config_digest = registry.put_blob(repository, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}],
    }
    digest = registry.put_manifest(repository, tag, manifest, OCI_MANIFEST)
    size = len(json.dumps(manifest).encode())
    descriptor = {
        "mediaType": OCI_MANIFEST, "digest": digest, "size": size,
        "platform": {"architecture": architecture, "os": os},
    }  # fmt: skip
    return digest, descriptor


@contextmanager
def registry(workdir: Path, credentials: Credentials | None = None) -> Iterator[Registry]:
    """`docker-registry serve` with a private config and storage dir; waits for /v2/, stops it by its PID."""
    binary = shutil.which("docker-registry")
    if not binary:
        pytest.fail("docker-registry is not installed (Debian package docker-registry; .ci/run installs it)")
    port = free_port()
    auth = ""
    if credentials:
        if not shutil.which("htpasswd"):
            pytest.fail("htpasswd is not installed (Debian package apache2-utils; .ci/run installs it)")
        hashed = subprocess.run(
            ["htpasswd", "-Bbn", credentials.username, credentials.password],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (workdir / "htpasswd").write_text(hashed)
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {workdir / 'htpasswd'}\n"
    config = workdir / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {workdir / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    log = (workdir / "registry.log").open("w")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    running = Registry(f"127.0.0.1:{port}", credentials)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{running.address}/v2/", timeout=2).close()
                break
            except urllib.error.HTTPError as err:  # 401 from a registry with a login: it is up
                if err.code == 401:
                    break
                raise
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"docker-registry did not start: {(workdir / 'registry.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield running
    finally:
        stop(process)
        log.close()
