"""The bundle manifest: one writer (hashes, content-derived version), one checked loader, one field reader."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

from chalice_app.chalicelib.contract.manifest import (
    SCHEMA_VERSION,
    BundleError,
    ManifestContent,
    field,
    load_manifest,
    main,
    model_version,
    sha256_file,
    verify_bundle,
    write_manifest,
)
from tests.support.labels import LABELS
from tests.support.manifests import minimal_content as content


def bundle(tmp_path: Path, **sections: Any) -> Path:
    for name, data in {"model.onnx": b"fp32", "model.int8.onnx": b"int8", "tokenizer.json": b"{}"}.items():
        (tmp_path / name).write_bytes(data)
    write_manifest(tmp_path, content(**sections))
    return tmp_path


class TestWriteManifest:
    def test_hashes_every_file_and_derives_the_version(self, tmp_path: Path) -> None:
        manifest = load_manifest(bundle(tmp_path))
        assert manifest["schema_version"] == SCHEMA_VERSION
        assert manifest["labels"] == list(LABELS)
        assert manifest["files"]["model.onnx"] == {"sha256": sha256_file(tmp_path / "model.onnx"), "bytes": 4}
        hashes = {name: entry["sha256"] for name, entry in manifest["files"].items()}
        assert manifest["model_version"] == model_version(hashes)
        assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
        assert verify_bundle(tmp_path) == manifest

    def test_rewriting_does_not_hash_the_old_manifest(self, tmp_path: Path) -> None:
        (tmp_path / "model.onnx").write_bytes(b"fp32")
        first = write_manifest(tmp_path, content())
        second = write_manifest(tmp_path, content(run_name="again"))
        assert set(second["files"]) == {"model.onnx"}
        assert second["model_version"] == first["model_version"]
        assert second["run_name"] == "again"

    def test_the_version_depends_on_the_bytes_only(self, tmp_path: Path) -> None:
        one, two = tmp_path / "one", tmp_path / "two"
        one.mkdir()
        two.mkdir()
        bundle(one, run_name="a")
        bundle(two, run_name="b")
        assert load_manifest(one)["model_version"] == load_manifest(two)["model_version"]
        (two / "model.onnx").write_bytes(b"other weights")
        assert write_manifest(two, content())["model_version"] != load_manifest(one)["model_version"]

    def test_content_without_labels_is_refused_before_anything_is_written(self, tmp_path: Path) -> None:
        (tmp_path / "model.onnx").write_bytes(b"fp32")
        broken = dict(content())
        broken["labels"] = ["acceptable", "acceptable"]
        with pytest.raises(BundleError, match="two distinct label names"):
            write_manifest(tmp_path, cast(ManifestContent, broken))
        assert not (tmp_path / "manifest.json").exists()


class TestLoadManifest:
    def test_a_missing_directory_says_how_to_make_one(self, tmp_path: Path) -> None:
        with pytest.raises(BundleError, match="make export"):
            load_manifest(tmp_path / "nope")

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"schema_version": 2}, "schema_version 2, this runtime reads 1"),
            ({"labels": None}, "'labels' must list"),
            ({"labels": ["only"]}, "'labels' must list"),
            ({"tokenizer": {"max_length": 64}}, "section 'tokenizer' must have max_length, pad_id"),
            ({"serving": {}}, "section 'serving' must have model_file"),
            ({"files": []}, "no 'files' table"),
        ],
    )
    def test_a_section_readers_rely_on_is_checked(self, tmp_path: Path, change: dict[str, Any], message: str) -> None:
        path = bundle(tmp_path) / "manifest.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
        with pytest.raises(BundleError, match=message):
            load_manifest(tmp_path)

    def test_not_json_is_a_bundle_error(self, tmp_path: Path) -> None:
        (tmp_path / "manifest.json").write_text("{")
        with pytest.raises(BundleError, match="not valid JSON"):
            load_manifest(tmp_path)


class TestField:
    def test_dotted_paths_reach_nested_sections(self, tmp_path: Path) -> None:
        manifest = load_manifest(bundle(tmp_path))
        assert field(manifest, "serving.model_file") == "model.onnx"
        assert field(manifest, "model_version") == manifest["model_version"]
        with pytest.raises(BundleError, match=r"no field 'serving\.nope'"):
            field(manifest, "serving.nope")

    def test_the_makefile_reader_prints_one_value(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        bundle(tmp_path)
        assert main(["serving.model_file", str(tmp_path)]) == 0
        assert capsys.readouterr().out == "model.onnx\n"
        assert main(["labels", str(tmp_path)]) == 0
        assert json.loads(capsys.readouterr().out) == list(LABELS)
        assert main(["nope", str(tmp_path)]) == 1
        assert "no field 'nope'" in capsys.readouterr().err
        assert main([]) == 2


class TestModelVersion:
    """model_version() on hash tables: the identity of a bundle is the names and bytes of its files."""

    HASHES: ClassVar[dict[str, str]] = {"model.onnx": "a" * 64, "model.int8.onnx": "b" * 64, "tokenizer.json": "c" * 64}

    def test_format_is_m_and_twelve_hex_digits(self) -> None:
        assert re.fullmatch(r"m-[0-9a-f]{12}", model_version(self.HASHES))

    def test_same_hashes_same_version(self) -> None:
        assert model_version(dict(self.HASHES)) == model_version(self.HASHES)

    def test_order_of_files_does_not_matter(self) -> None:
        reordered = dict(reversed(list(self.HASHES.items())))
        assert list(reordered) != list(self.HASHES)
        assert model_version(reordered) == model_version(self.HASHES)

    @pytest.mark.parametrize("name", sorted(HASHES))
    def test_changing_any_file_changes_the_version(self, name: str) -> None:
        changed = {**self.HASHES, name: "d" * 64}
        assert model_version(changed) != model_version(self.HASHES)

    def test_renaming_adding_or_removing_a_file_changes_the_version(self) -> None:
        base = model_version(self.HASHES)
        renamed = {("model.fp32.onnx" if k == "model.onnx" else k): v for k, v in self.HASHES.items()}
        added = {**self.HASHES, "extra.txt": "e" * 64}
        removed = {k: v for k, v in self.HASHES.items() if k != "tokenizer.json"}
        assert len({base, model_version(renamed), model_version(added), model_version(removed)}) == 4
