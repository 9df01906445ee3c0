"""Teacher-labelled transfer set for distillation: word-level perturbations of the training sentences.

Dropping, swapping, duplicating or replacing a word mostly makes an unacceptable sentence, so the teacher's soft
labels on these copies act as near-miss examples that the gold data lacks. The copies carry no gold label: only the
teacher's logits train the student on them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Perturbation = Callable[[list[str], random.Random, Sequence[str]], list[str]]


def drop_word(words: list[str], rng: random.Random, vocabulary: Sequence[str]) -> list[str]:
    """Remove one word."""
    i = rng.randrange(len(words))
    return words[:i] + words[i + 1 :]


def swap_words(words: list[str], rng: random.Random, vocabulary: Sequence[str]) -> list[str]:
    """Exchange two neighbouring words."""
    i = rng.randrange(len(words) - 1)
    return [*words[:i], words[i + 1], words[i], *words[i + 2 :]]


def duplicate_word(words: list[str], rng: random.Random, vocabulary: Sequence[str]) -> list[str]:
    """Say one word twice."""
    i = rng.randrange(len(words))
    return words[: i + 1] + words[i:]


def replace_word(words: list[str], rng: random.Random, vocabulary: Sequence[str]) -> list[str]:
    """Put a word of the training vocabulary in place of one word."""
    i = rng.randrange(len(words))
    return [*words[:i], rng.choice(vocabulary), *words[i + 1 :]]


def move_word(words: list[str], rng: random.Random, vocabulary: Sequence[str]) -> list[str]:
    """Take one word out and put it back somewhere else."""
    i = rng.randrange(len(words))
    rest = words[:i] + words[i + 1 :]
    j = rng.randrange(len(rest) + 1)
    return [*rest[:j], words[i], *rest[j:]]


PERTURBATIONS: dict[str, Perturbation] = {
    "drop": drop_word,
    "swap": swap_words,
    "duplicate": duplicate_word,
    "replace": replace_word,
    "move": move_word,
}


def _vocabulary(sentences: Sequence[str]) -> list[str]:
    """Distinct lower-case alphabetic words of the sentences, sorted (so the transfer set is reproducible)."""
    return sorted({w.lower() for s in sentences for w in s.split() if w.isalpha()})


def perturb(sentence: str, operation: str, rng: random.Random, vocabulary: Sequence[str]) -> str | None:
    """One perturbed copy, or None when the sentence is too short for it (or the copy equals the original)."""
    words = sentence.split()
    if len(words) < 3:
        return None
    copy = " ".join(PERTURBATIONS[operation](words, rng, vocabulary))
    return copy if copy != sentence else None


@dataclass(frozen=True)
class TransferCopy:
    """One perturbed copy: its text, the index of the sentence it was made from and its copy number there."""

    text: str
    source: int
    copy: int


def transfer_copies(
    sentences: Sequence[str], copies_per_sentence: int, operations: Sequence[str], seed: int
) -> list[TransferCopy]:
    """`copies_per_sentence` perturbed copies of each sentence, without duplicates or originals, in a fixed order.

    Operations rotate per copy (copy k of a sentence uses operations[(start + k) % len]) so each sentence gets
    different kinds of damage; the result depends only on the inputs and the seed.
    """
    unknown = sorted(set(operations) - set(PERTURBATIONS))
    if unknown:
        raise ValueError(f"unknown perturbation(s) {unknown}; choose from {sorted(PERTURBATIONS)}")
    if copies_per_sentence < 0:
        raise ValueError(f"copies_per_sentence must be >= 0, got {copies_per_sentence}")
    if copies_per_sentence and not operations:
        raise ValueError("no perturbation operations configured")
    rng = random.Random(seed)
    vocabulary = _vocabulary(sentences)
    seen = set(sentences)
    out: list[TransferCopy] = []
    for index, sentence in enumerate(sentences):
        start = rng.randrange(len(operations)) if operations else 0
        for k in range(copies_per_sentence):
            copy = perturb(sentence, operations[(start + k) % len(operations)], rng, vocabulary)
            if copy is not None and copy not in seen:
                seen.add(copy)
                out.append(TransferCopy(copy, index, k))
    return out


def transfer_sentences(
    sentences: Sequence[str], copies_per_sentence: int, operations: Sequence[str], seed: int
) -> list[str]:
    """The texts of `transfer_copies` (what distillation trains on)."""
    return [c.text for c in transfer_copies(sentences, copies_per_sentence, operations, seed)]


def sentences_sha256(sentences: Sequence[str]) -> str:
    """Content hash of an ordered list of sentences (the transfer set's identity in the logits cache)."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(sentence.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
