"""The pieces a bundle is assembled from, on small hand-made inputs: serving tokenizer, manifest, reference
distribution and the atomic publish step (fast: no model, no training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from chalice_app.chalicelib.labels import LABELS
from chalice_app.chalicelib.manifest import SCHEMA_VERSION, model_version, sha256_file, verify_bundle
from chalice_app.chalicelib.predictor import Prediction
from export.bundle import publish, reference_distribution, write_manifest, write_serving_tokenizer

VOCAB = {"[PAD]": 0, "[UNK]": 1, "<pad>": 2, "the": 3, "cat": 4, "sat": 5}


@pytest.fixture
def training_tokenizer(tmp_path: Path) -> Path:
    """A tokenizer saved with training-time settings: padding to 128 and truncation at 128."""
    tokenizer = Tokenizer(WordLevel(VOCAB, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.enable_padding(pad_id=2, pad_token="<pad>", length=128)
    tokenizer.enable_truncation(128)
    path = tmp_path / "model" / "tokenizer.json"
    path.parent.mkdir()
    tokenizer.save(str(path))
    return path


class TestServingTokenizer:
    def test_truncates_at_max_length_and_does_not_pad(self, training_tokenizer: Path, tmp_path: Path) -> None:
        target = tmp_path / "tokenizer.json"
        write_serving_tokenizer(training_tokenizer, target, max_length=64)
        saved = json.loads(target.read_text())
        assert saved["truncation"]["max_length"] == 64
        assert saved["padding"] is None
        assert len(Tokenizer.from_file(str(target)).encode("the cat sat").ids) == 3

    def test_pad_and_unk_ids_default_to_bert_tokens(self, training_tokenizer: Path, tmp_path: Path) -> None:
        info = write_serving_tokenizer(training_tokenizer, tmp_path / "tokenizer.json", max_length=64)
        assert info == {"max_length": 64, "pad_id": 0, "unk_id": 1}

    def test_pad_token_comes_from_tokenizer_config(self, training_tokenizer: Path, tmp_path: Path) -> None:
        config = {"pad_token": {"content": "<pad>", "special": True}, "unk_token": "[UNK]"}
        (training_tokenizer.parent / "tokenizer_config.json").write_text(json.dumps(config))
        info = write_serving_tokenizer(training_tokenizer, tmp_path / "tokenizer.json", max_length=32)
        assert info == {"max_length": 32, "pad_id": 2, "unk_id": 1}

    def test_pad_token_missing_from_the_vocabulary_is_an_error(self, training_tokenizer: Path, tmp_path: Path) -> None:
        (training_tokenizer.parent / "tokenizer_config.json").write_text(json.dumps({"pad_token": "<nope>"}))
        with pytest.raises(ValueError, match=r"pad token '<nope>' is not in the vocabulary"):
            write_serving_tokenizer(training_tokenizer, tmp_path / "tokenizer.json", max_length=64)


class TestWriteManifest:
    def test_hashes_every_file_and_derives_the_version(self, tmp_path: Path) -> None:
        for name, content in {"model.onnx": b"fp32", "model.int8.onnx": b"int8", "tokenizer.json": b"{}"}.items():
            (tmp_path / name).write_bytes(content)
        manifest = write_manifest(tmp_path, {"tokenizer": {"max_length": 64, "pad_id": 0, "unk_id": 1}})
        assert manifest["schema_version"] == SCHEMA_VERSION
        assert manifest["labels"] == list(LABELS)
        assert manifest["files"]["model.onnx"] == {"sha256": sha256_file(tmp_path / "model.onnx"), "bytes": 4}
        hashes = {name: entry["sha256"] for name, entry in manifest["files"].items()}
        assert manifest["model_version"] == model_version(hashes)
        assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
        assert verify_bundle(tmp_path) == manifest

    def test_rewriting_does_not_hash_the_old_manifest(self, tmp_path: Path) -> None:
        (tmp_path / "model.onnx").write_bytes(b"fp32")
        first = write_manifest(tmp_path, {})
        second = write_manifest(tmp_path, {"reference": {"n": 1}})
        assert set(second["files"]) == {"model.onnx"}
        assert second["model_version"] == first["model_version"]
        assert second["reference"] == {"n": 1}


def prediction(p_acceptable: float, n_chars: int = 10, n_tokens: int = 3, truncated: bool = False) -> Prediction:
    probabilities = {LABELS[0]: 1 - p_acceptable, LABELS[1]: p_acceptable}
    label = max(probabilities, key=probabilities.__getitem__)
    return Prediction(label, probabilities[label], probabilities, n_chars, n_tokens, truncated, 0.0)


class TestReferenceDistribution:
    def test_shares_histogram_and_lengths(self) -> None:
        predictions = [
            prediction(0.05, n_chars=5, n_tokens=1),
            prediction(0.55, n_chars=20, n_tokens=4),
            prediction(0.95, n_chars=30, n_tokens=6),
            prediction(1.0, n_chars=300, n_tokens=62, truncated=True),
        ]
        reference = reference_distribution(predictions, "validation")
        assert reference["split"] == "validation"
        assert reference["n"] == 4
        assert reference["label_share"] == {"unacceptable": 0.25, "acceptable": 0.75}
        assert reference["score_histogram"]["counts"] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 2]  # 1.0 is in the last bin
        assert reference["n_tokens"]["max"] == 62
        assert reference["n_tokens"]["mean"] == pytest.approx(18.25)
        assert reference["n_chars"]["p50"] == pytest.approx(25.0)
        assert reference["n_tokens_histogram"] == {
            "bin_edges": [0, 4, 6, 8, 10, 12, 15, 20, 30, 45, 63],
            "counts": [1, 1, 1, 0, 0, 0, 0, 0, 0, 1],
        }
        assert reference["truncated_share"] == 0.25
        assert reference["unknown_token_rate_mean"] == 0.0
        json.dumps(reference)  # plain JSON types only

    def test_length_histogram_last_bin_holds_longer_inputs(self) -> None:
        """A serving length above the last edge (e.g. max_length 128) still counts every input."""
        lengths = [0, 3, 63, 126]
        reference = reference_distribution([prediction(0.5, n_tokens=n) for n in lengths], "validation")
        assert reference["n_tokens_histogram"]["counts"] == [2, 0, 0, 0, 0, 0, 0, 0, 0, 2]


class TestPublish:
    @staticmethod
    def staging(parent: Path, content: str) -> Path:
        staging = parent / ".bundle.staging-x"
        staging.mkdir()
        (staging / "manifest.json").write_text(content)
        return staging

    def test_moves_staging_into_place(self, tmp_path: Path) -> None:
        staging = self.staging(tmp_path, "new")
        publish(staging, tmp_path / "bundle")
        assert (tmp_path / "bundle" / "manifest.json").read_text() == "new"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]

    def test_replaces_an_existing_bundle_and_leaves_no_leftovers(self, tmp_path: Path) -> None:
        old = tmp_path / "bundle"
        old.mkdir()
        (old / "manifest.json").write_text("old")
        (old / "stale.onnx").write_text("old")
        publish(self.staging(tmp_path, "new"), old)
        assert sorted(p.name for p in old.iterdir()) == ["manifest.json"]
        assert (old / "manifest.json").read_text() == "new"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
