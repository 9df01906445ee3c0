"""Word neighbours: nearest whole-word tokens of an encoder's input embeddings, never the word itself or a piece."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file
from tokenizers import Tokenizer
from tokenizers.models import WordLevel

from model_training.distillation.neighbours import NeighbourSourceError, embedding_neighbours

# Token → embedding. "walked" is nearest to "strolled", then "walks"; "##ed" and "[CLS]" are closer still but are
# not whole words; "book" points elsewhere.
TABLE = {
    "[CLS]": [1.0, 0.02, 0.0],
    "##ed": [1.0, 0.01, 0.0],
    "walked": [1.0, 0.0, 0.0],
    "strolled": [0.95, 0.05, 0.0],
    "walks": [0.8, 0.3, 0.0],
    "book": [0.0, 0.0, 1.0],
    "books": [0.0, 0.2, 0.9],
    "a": [0.1, 0.9, 0.1],
}


def encoder(tmp_path: Path, tensors: dict[str, np.ndarray] | None = None) -> Path:
    vocab = {token: i for i, token in enumerate(TABLE)}
    Tokenizer(WordLevel(vocab, unk_token="[CLS]")).save(str(tmp_path / "tokenizer.json"))
    table = np.array(list(TABLE.values()), dtype=np.float32)
    save_file(tensors or {"bert.embeddings.word_embeddings.weight": table}, str(tmp_path / "model.safetensors"))
    return tmp_path


def test_nearest_whole_words_first_never_the_word_a_piece_or_a_special_token(tmp_path: Path) -> None:
    found = embedding_neighbours(encoder(tmp_path), ["walked", "book"], top_k=2)
    assert found == {"walked": ("strolled", "walks"), "book": ("books", "a")}


def test_words_are_matched_lower_cased_and_unknown_words_have_no_entry(tmp_path: Path) -> None:
    found = embedding_neighbours(encoder(tmp_path), ["Walked", "zebra", "ed"], top_k=1)
    assert found == {"walked": ("strolled",)}


def test_the_table_is_read_by_its_name_whatever_the_prefix(tmp_path: Path) -> None:
    table = np.array(list(TABLE.values()), dtype=np.float32)
    path = encoder(tmp_path, {"embeddings.word_embeddings.weight": table, "pooler.dense.weight": np.eye(3)})
    assert embedding_neighbours(path, ["book"], top_k=1) == {"book": ("books",)}


def test_an_encoder_without_its_files_or_table_is_refused_with_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(NeighbourSourceError, match=r"tokenizer\.json is missing"):
        embedding_neighbours(tmp_path, ["book"], top_k=1)
    path = encoder(tmp_path, {"other.weight": np.eye(3, dtype=np.float32)})
    with pytest.raises(NeighbourSourceError, match=r"word_embeddings\.weight"):
        embedding_neighbours(path, ["book"], top_k=1)


def test_top_k_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="top_k"):
        embedding_neighbours(encoder(tmp_path), ["book"], top_k=0)
