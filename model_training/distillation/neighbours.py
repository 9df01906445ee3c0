"""Word neighbours from a pretrained encoder's input embeddings, for lexical-substitution copies of the transfer set.

A word's nearest whole-word tokens by cosine similarity of their input embeddings are a mix of near-synonyms
(walked: strolled, strode) and other forms of the same word (walked: walks, walking). Swapping words for them gives
sentences with new vocabulary, mostly still acceptable, and agreement or argument-structure slips, which the teacher
labels (TinyBERT's data augmentation, with the embedding table standing in for GloVe).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

EMBEDDING_SUFFIX = "word_embeddings.weight"
SINGLE_LETTER_WORDS = frozenset({"a", "i"})


class NeighbourSourceError(RuntimeError):
    """The encoder directory lacks a tokenizer or an input-embedding table to take neighbours from."""


def _whole_words(tokenizer: Tokenizer) -> dict[str, int]:
    """Vocabulary entries that are whole lower-case alphabetic words (no sub-word pieces, no special tokens)."""
    return {
        token: index
        for token, index in tokenizer.get_vocab().items()
        if token.isalpha() and token.islower() and (len(token) > 1 or token in SINGLE_LETTER_WORDS)
    }


def _embedding_table(weights: Path) -> np.ndarray:
    tensors = load_file(str(weights))
    names = [name for name in tensors if name.endswith(EMBEDDING_SUFFIX)]
    if len(names) != 1:
        raise NeighbourSourceError(f"{weights}: expected one '*{EMBEDDING_SUFFIX}' tensor, found {names or 'none'}")
    return tensors[names[0]].astype(np.float32)


def embedding_neighbours(encoder_dir: Path, words: Iterable[str], top_k: int) -> dict[str, tuple[str, ...]]:
    """Each word's `top_k` nearest whole-word tokens (cosine, input embeddings), nearest first.

    Words are matched lower-cased; those the tokenizer keeps whole are the only ones with neighbours (a word split
    into pieces has no single embedding). Ties keep vocabulary order, so the result depends only on the inputs.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    tokenizer_file, weights = encoder_dir / "tokenizer.json", encoder_dir / "model.safetensors"
    for needed in (tokenizer_file, weights):
        if not needed.is_file():
            raise NeighbourSourceError(f"{needed} is missing: neighbours need the encoder's tokenizer and weights")
    vocabulary = _whole_words(Tokenizer.from_file(str(tokenizer_file)))
    candidates = sorted(vocabulary, key=vocabulary.__getitem__)
    table = _embedding_table(weights)[[vocabulary[c] for c in candidates]]
    table /= np.linalg.norm(table, axis=1, keepdims=True).clip(min=1e-12)
    position = {c: i for i, c in enumerate(candidates)}
    queries = sorted({w.lower() for w in words} & position.keys())
    out: dict[str, tuple[str, ...]] = {}
    for start in range(0, len(queries), 512):
        chunk = queries[start : start + 512]
        rows = np.array([position[q] for q in chunk])
        similarity = table[rows] @ table.T
        similarity[np.arange(len(chunk)), rows] = -np.inf  # a word is not its own neighbour
        nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :top_k]
        for word, picks in zip(chunk, nearest, strict=True):
            out[word] = tuple(candidates[j] for j in picks)
    return out
