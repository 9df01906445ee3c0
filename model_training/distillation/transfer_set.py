"""Teacher-labelled transfer set for distillation: word-level perturbations of the training sentences.

Dropping, swapping, duplicating or replacing a word mostly makes an unacceptable sentence, so the teacher's soft
labels on these copies act as near-miss examples that the gold data lacks. Substitution copies swap words for their
embedding neighbours (distillation/neighbours.py): new vocabulary in mostly acceptable sentences, and inflection
slips. The copies carry no gold label: only the teacher's logits train the student on them.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Mapping, Sequence
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


_WORD = re.compile(r"^([^A-Za-z]*)([A-Za-z]+)([^A-Za-z]*)$")  # a word and the punctuation around it


def substitute_neighbours(
    words: list[str], rng: random.Random, neighbours: Mapping[str, Sequence[str]], probability: float
) -> list[str]:
    """Swap each word that has neighbours for one of them with `probability` (at least one word is swapped).

    Punctuation around a word stays; a capitalised word gets a capitalised neighbour, except the pronoun I inside
    the sentence.
    """
    slots = [i for i, w in enumerate(words) if (m := _WORD.match(w)) and m.group(2).lower() in neighbours]
    if not slots:
        return words
    chosen = [i for i in slots if rng.random() < probability] or [rng.choice(slots)]
    out = list(words)
    for i in chosen:
        prefix, core, suffix = _WORD.match(words[i]).groups()  # type: ignore[union-attr]
        new = rng.choice(neighbours[core.lower()])
        if new == "i" or (core[0].isupper() and (i == 0 or core != "I")):
            new = new.capitalize()
        out[i] = prefix + new + suffix
    return out


@dataclass(frozen=True)
class Substitution:
    """Lexical-substitution copies: how many per sentence, each word's neighbours and the chance a word is swapped."""

    neighbours: Mapping[str, Sequence[str]]
    copies_per_sentence: int
    probability: float

    def __post_init__(self) -> None:
        if self.copies_per_sentence < 0:
            raise ValueError(f"substitution copies_per_sentence must be >= 0, got {self.copies_per_sentence}")
        if not 0.0 < self.probability <= 1.0:
            raise ValueError(f"substitution probability must be in (0, 1], got {self.probability}")


@dataclass(frozen=True)
class TransferCopy:
    """One perturbed copy: its text, the index of the sentence it was made from and its copy number there."""

    text: str
    source: int
    copy: int


def transfer_copies(
    sentences: Sequence[str],
    copies_per_sentence: int,
    operations: Sequence[str],
    seed: int,
    substitution: Substitution | None = None,
) -> list[TransferCopy]:
    """`copies_per_sentence` perturbed copies of each sentence, without duplicates or originals, in a fixed order.

    Operations rotate per copy (copy k of a sentence uses operations[(start + k) % len]) so each sentence gets
    different kinds of damage; `substitution` adds its copies after each sentence's damaged ones (numbered on from
    them, drawn from a random stream of their own, so the damaged copies are the same with or without them). The
    result depends only on the inputs and the seed.
    """
    unknown = sorted(set(operations) - set(PERTURBATIONS))
    if unknown:
        raise ValueError(f"unknown perturbation(s) {unknown}; choose from {sorted(PERTURBATIONS)}")
    if copies_per_sentence < 0:
        raise ValueError(f"copies_per_sentence must be >= 0, got {copies_per_sentence}")
    if copies_per_sentence and not operations:
        raise ValueError("no perturbation operations configured")
    rng = random.Random(seed)
    substitution_rng = random.Random(f"substitution-{seed}")
    vocabulary = _vocabulary(sentences)
    seen = set(sentences)
    out: list[TransferCopy] = []

    def keep(copy: str | None, index: int, k: int) -> None:
        if copy is not None and copy not in seen:
            seen.add(copy)
            out.append(TransferCopy(copy, index, k))

    for index, sentence in enumerate(sentences):
        start = rng.randrange(len(operations)) if operations else 0
        for k in range(copies_per_sentence):
            keep(perturb(sentence, operations[(start + k) % len(operations)], rng, vocabulary), index, k)
        if substitution is not None and len(sentence.split()) >= 3:
            for k in range(substitution.copies_per_sentence):
                words = substitute_neighbours(
                    sentence.split(), substitution_rng, substitution.neighbours, substitution.probability
                )
                keep(" ".join(words), index, copies_per_sentence + k)
    return out


def transfer_sentences(
    sentences: Sequence[str],
    copies_per_sentence: int,
    operations: Sequence[str],
    seed: int,
    substitution: Substitution | None = None,
) -> list[str]:
    """The texts of `transfer_copies` (what distillation trains on)."""
    return [c.text for c in transfer_copies(sentences, copies_per_sentence, operations, seed, substitution)]


def sentences_sha256(sentences: Sequence[str]) -> str:
    """Content hash of an ordered list of sentences (the transfer set's identity in the logits cache)."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(sentence.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
