"""The pieces a bundle is assembled from, on small hand-made inputs: the serving tokenizer and the atomic publish
step (fast: no model, no training). The manifest and the reference: tests/unit/chalice_app/contract/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from export.bundle import publish, write_serving_tokenizer

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
