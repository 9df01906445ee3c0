"""The model bundle's manifest: its schema, the content-derived model version, and hash verification.

A bundle is one immutable directory: model.onnx, model.int8.onnx, tokenizer.json and manifest.json. The manifest
names every file with its sha256; the model version is derived from those hashes, so the same bytes always give
the same version. The runtime owns this format; export/ writes it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

MANIFEST_FILE = "manifest.json"
SCHEMA_VERSION = 1


class BundleError(RuntimeError):
    """The bundle is missing, incomplete, or its files do not match the manifest."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_version(file_hashes: dict[str, str]) -> str:
    """A short version string derived only from the files' names and hashes (order-independent)."""
    canonical = "\n".join(f"{name}:{digest}" for name, digest in sorted(file_hashes.items()))
    return "m-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def load_manifest(bundle_dir: Path) -> dict[str, Any]:
    """Read manifest.json, failing with a clear message when it is absent or not a manifest."""
    path = bundle_dir / MANIFEST_FILE
    if not bundle_dir.is_dir():
        raise BundleError(f"model bundle directory {bundle_dir} does not exist; run `make export` or set MODEL_DIR")
    if not path.is_file():
        raise BundleError(f"{path} is missing: {bundle_dir} is not a model bundle (run `make export`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BundleError(f"{path} has no 'files' table: not a model bundle manifest")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise BundleError(
            f"{path}: schema_version {manifest.get('schema_version')!r}, this runtime reads {SCHEMA_VERSION}"
        )
    return manifest


def verify_bundle(
    bundle_dir: Path, manifest: dict[str, Any] | None = None, only: list[str] | None = None
) -> dict[str, Any]:
    """Check files' sha256 and the derived version against the manifest; return the manifest.

    `only` limits the byte check to the files a process actually loads (a slim serving image may ship the int8
    model without the fp32 one); the version is always re-derived from the manifest's hashes of every file.
    """
    manifest = manifest if manifest is not None else load_manifest(bundle_dir)
    files: dict[str, Any] = manifest["files"]
    hashes: dict[str, str] = {name: str(entry["sha256"]) for name, entry in files.items()}
    for name in sorted(only if only is not None else files):
        if name not in files:
            raise BundleError(f"{bundle_dir}: file {name} is not named in the manifest")
        entry = files[name]
        path = bundle_dir / name
        if not path.is_file():
            raise BundleError(f"{bundle_dir}: file {name} named in the manifest is missing")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise BundleError(
                f"{path}: sha256 {actual} does not match the manifest's {entry['sha256']}: the bundle is corrupt "
                "or was modified; re-export it or pull it again (make dvc-pull)"
            )
    expected = model_version(hashes)
    if manifest.get("model_version") != expected:
        raise BundleError(
            f"{bundle_dir}: manifest model_version {manifest.get('model_version')!r} does not match its "
            f"files ({expected})"
        )
    return manifest
