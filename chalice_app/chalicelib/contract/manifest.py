"""The model bundle's manifest: every section typed, one loader, one writer, the content-derived model version.

A bundle is one immutable directory: model.onnx, optionally model.int8.onnx, tokenizer.json and manifest.json. The
manifest names every file with its sha256; the model version is derived from those hashes only, so the same bytes
always give the same version. export/ writes a bundle through `write_manifest`; the API, monitoring, bench, infra
and the Makefile (`python -m chalice_app.chalicelib.contract.manifest FIELD BUNDLE`) read it through `load_manifest`.
Standard library only: the Makefile runs this module with any Python 3.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict, cast

if TYPE_CHECKING:
    from .drift_reference import DriftReference

MANIFEST_FILE = "manifest.json"
TOKENIZER_FILE = "tokenizer.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
SCHEMA_VERSION = 1

SESSION_BATCH: dict[str, int] = {FP32_FILE: 0, INT8_FILE: 1}
"""Sentences per onnxruntime call for each model file (0: the whole request in one padded batch). Dynamic int8
quantises activations per call, so one sentence per call keeps a sentence's answer independent of its batch."""

Precision = Literal["int8", "fp32"]


class BundleError(RuntimeError):
    """The bundle is missing, incomplete, or its files do not match the manifest."""


class FileEntry(TypedDict):
    sha256: str
    bytes: int


class TokenizerSection(TypedDict):
    """How tokenizer.json is used: truncation length, and the ids the predictor pads with and counts."""

    max_length: int
    pad_id: int
    unk_id: int | None


class ServingSection(TypedDict):
    """Which model file is served and why (an int8 model that failed its gates is not shipped)."""

    model_file: str
    precision: Precision
    reason: str
    session_batch: dict[str, int]


class Int8Settings(TypedDict):
    per_channel: bool
    reduce_range: bool
    keep_fp32: list[str]
    fp32_nodes: int


class OnnxSection(TypedDict):
    opset: int
    graph_fusion: dict[str, Any] | None
    int8: Int8Settings | None


class ParityReport(TypedDict):
    """A candidate model's logits against a reference model's on the same split."""

    max_abs_logit_diff: float
    prediction_agreement: float
    reference: dict[str, float]
    candidate: dict[str, float]


class Int8Attempt(TypedDict):
    """One int8 model the export built and gated: its settings, its figures against fp32, what it failed."""

    settings: Int8Settings
    prediction_agreement: float
    mcc: float
    failures: list[str]


class Int8Gate(TypedDict):
    """The gate of the int8 model the bundle records (the last attempt); `attempts` lists every setting tried, in
    order (conf/export/<model>.yaml: the quantization settings, then its `fallbacks`)."""

    passed: bool
    failures: list[str]
    attempts: NotRequired[list[Int8Attempt]]


class ParitySection(TypedDict):
    split: str
    n: int
    fp32_vs_torch: ParityReport
    int8_vs_fp32: ParityReport | None
    int8_gate: Int8Gate | None
    gates: dict[str, float]


class TrainingSection(TypedDict):
    """What the run's metrics.json says about the weights: best epoch, metrics per split, data, encoder."""

    best: dict[str, Any]
    eval: dict[str, dict[str, float]]
    data: dict[str, Any]
    encoder: dict[str, Any]
    distillation: NotRequired[dict[str, Any]]


class MachineSection(TypedDict):
    """Where the weights were trained and the bundle exported (model_training/machine.py describes a machine)."""

    training: dict[str, Any] | None
    export: dict[str, Any] | None


class ManifestContent(TypedDict):
    """What export/ supplies; `write_manifest` adds the files, their hashes and the version."""

    labels: list[str]
    model_name: str
    run_name: str
    tokenizer: TokenizerSection
    serving: ServingSection
    onnx: OnnxSection
    training: TrainingSection
    parity: ParitySection
    machine: MachineSection
    source_config: dict[str, Any]
    reference: NotRequired[DriftReference]
    libraries: dict[str, str]


class Manifest(ManifestContent):
    """manifest.json of a bundle."""

    schema_version: int
    model_version: str
    files: dict[str, FileEntry]
    created_at: str


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_version(file_hashes: Mapping[str, str]) -> str:
    """A short version string derived only from the files' names and hashes (order-independent)."""
    canonical = "\n".join(f"{name}:{digest}" for name, digest in sorted(file_hashes.items()))
    return "m-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def write_manifest(directory: Path, content: ManifestContent) -> Manifest:
    """Hash every file in `directory`, derive the version, and write manifest.json with `content`."""
    hashes = {p.name: sha256_file(p) for p in sorted(directory.iterdir()) if p.name != MANIFEST_FILE}
    manifest = cast(
        Manifest,
        {
            "schema_version": SCHEMA_VERSION,
            "model_version": model_version(hashes),
            "files": {
                name: {"sha256": digest, "bytes": (directory / name).stat().st_size} for name, digest in hashes.items()
            },
            **content,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    check_manifest(manifest, directory / MANIFEST_FILE)
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load_manifest(bundle_dir: Path) -> Manifest:
    """Read and check manifest.json, failing with a clear message when it is absent or not a manifest."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / MANIFEST_FILE
    if not bundle_dir.is_dir():
        raise BundleError(f"model bundle directory {bundle_dir} does not exist; run `make export` or set MODEL_DIR")
    if not path.is_file():
        raise BundleError(f"{path} is missing: {bundle_dir} is not a model bundle (run `make export`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"{path} is not valid JSON: {err}") from err
    return check_manifest(manifest, path)


def check_manifest(manifest: Any, path: Path) -> Manifest:
    """The sections every reader relies on, checked for presence and type; BundleError names the first problem."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BundleError(f"{path} has no 'files' table: not a model bundle manifest")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise BundleError(
            f"{path}: schema_version {manifest.get('schema_version')!r}, this runtime reads {SCHEMA_VERSION}"
        )
    labels = manifest.get("labels")
    if (
        not isinstance(labels, list)
        or len(labels) < 2
        or len(set(labels)) != len(labels)
        or not all(isinstance(name, str) and name for name in labels)
    ):
        raise BundleError(f"{path}: 'labels' must list at least two distinct label names, got {labels!r}")
    for section, keys in (("tokenizer", ("max_length", "pad_id")), ("serving", ("model_file",))):
        value = manifest.get(section)
        if not isinstance(value, dict) or any(key not in value for key in keys):
            raise BundleError(f"{path}: section {section!r} must have {', '.join(keys)}; re-export the bundle")
    if not isinstance(manifest.get("model_version"), str):
        raise BundleError(f"{path}: 'model_version' is missing")
    return cast(Manifest, manifest)


def verify_bundle(bundle_dir: Path, manifest: Manifest | None = None, only: list[str] | None = None) -> Manifest:
    """Check files' sha256 and the derived version against the manifest; return the manifest.

    `only` limits the byte check to the files a process actually loads (a slim serving image may ship the int8
    model without the fp32 one); the version is always re-derived from the manifest's hashes of every file.
    """
    manifest = manifest if manifest is not None else load_manifest(bundle_dir)
    files = manifest["files"]
    hashes = {name: str(entry["sha256"]) for name, entry in files.items()}
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


def field(manifest: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path (`serving.model_file`); BundleError when a part is missing."""
    value: Any = manifest
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise BundleError(f"the manifest has no field {dotted!r}")
        value = value[part]
    return value


def main(argv: list[str] | None = None) -> int:
    """`python -m chalice_app.chalicelib.contract.manifest FIELD BUNDLE`: print one field (the Makefile's reader)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m chalice_app.chalicelib.contract.manifest FIELD BUNDLE_DIR", file=sys.stderr)
        return 2
    try:
        value = field(load_manifest(Path(args[1])), args[0])
    except BundleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(value if isinstance(value, str) else json.dumps(value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
