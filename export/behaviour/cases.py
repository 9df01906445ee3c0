"""Generate the behaviour cases of conf/behaviour.yaml: templates filled with lexicon words, seeded.

A case is one sentence (mft), or a pair (invariance: a word swapped within its class; directional: a word deleted).
Expectations are class ids of the data config (conf/data/cola.yaml `labels`); the runner names them with the
bundle's manifest labels, so no label name is written here.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

import yaml

from chalice_app.chalicelib.contract.evaluation import TestType

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "conf" / "behaviour.yaml"

SLOT = re.compile(r"\{([a-z_]+)(?:#(\d+))?(?:\.([a-z_]+))?\}")
"""{class}, {class#2} (a second, different word of the class), {class.form}, {class#2.form}."""

MAX_DRAWS_PER_CASE = 50
"""Draws tried per wanted case before the lexicon is judged too small for the count asked."""

Word = str | dict[str, str]


class BehaviourConfigError(ValueError):
    """conf/behaviour.yaml cannot generate its cases; the message names the key and what to change."""


@dataclass(frozen=True)
class Case:
    """One behaviour test case: its sentences and what the model must do with them."""

    capability: str
    test: TestType
    texts: tuple[str, ...]
    expect: int | None = None  # mft: the class every sentence must get
    falls: int | None = None  # directional: the class whose probability must fall from texts[0] to texts[1]


@dataclass(frozen=True)
class Capability:
    name: str
    test: TestType
    description: str
    templates: tuple[tuple[str, ...], ...]
    expect: int | None
    falls: int | None
    vary: str | None


@dataclass(frozen=True)
class BehaviourConfig:
    seed: int
    cases_per_capability: int
    failures_kept: int
    lexicon: dict[str, list[Word]]
    capabilities: tuple[Capability, ...]


def load_config(path: Path = DEFAULT_CONFIG) -> BehaviourConfig:
    """Read and check conf/behaviour.yaml (or another file of its format)."""
    if not path.is_file():
        raise BehaviourConfigError(f"behaviour config {path} does not exist")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise BehaviourConfigError(f"behaviour config {path} is not a mapping")
    return parse_config(raw, str(path))


def parse_config(raw: dict[str, Any], where: str = "behaviour config") -> BehaviourConfig:
    """Check every key and build the config; errors name the key."""

    def positive(key: str) -> int:
        value = raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BehaviourConfigError(f"{where}: {key} must be a non-negative integer, got {value!r}")
        return value

    lexicon = raw.get("lexicon")
    if not isinstance(lexicon, dict) or not lexicon:
        raise BehaviourConfigError(f"{where}: lexicon must map word classes to lists of words")
    for name, words in lexicon.items():
        if not isinstance(words, list) or len(words) < 2:
            raise BehaviourConfigError(f"{where}: lexicon.{name} must list at least two words")
    capabilities_raw = raw.get("capabilities")
    if not isinstance(capabilities_raw, dict) or not capabilities_raw:
        raise BehaviourConfigError(f"{where}: capabilities must map names to their tests")
    capabilities = tuple(_capability(name, spec, lexicon, where) for name, spec in capabilities_raw.items())
    count = positive("cases_per_capability")
    if count == 0:
        raise BehaviourConfigError(f"{where}: cases_per_capability must be at least 1")
    return BehaviourConfig(positive("seed"), count, positive("failures_kept"), lexicon, capabilities)


def _capability(name: str, spec: Any, lexicon: dict[str, list[Word]], where: str) -> Capability:
    key = f"{where}: capabilities.{name}"
    if not isinstance(spec, dict):
        raise BehaviourConfigError(f"{key} must be a mapping (test, description, templates, ...)")
    test = spec.get("test")
    if test not in get_args(TestType):
        raise BehaviourConfigError(f"{key}.test must be one of {', '.join(get_args(TestType))}, got {test!r}")
    raw_templates = spec.get("templates")
    if not isinstance(raw_templates, list) or not raw_templates:
        raise BehaviourConfigError(f"{key}.templates must list at least one template")
    width = 2 if test == "directional" else 1
    templates: list[tuple[str, ...]] = []
    for template in raw_templates:
        parts = tuple(template) if isinstance(template, list) else (template,)
        if len(parts) != width or not all(isinstance(p, str) and p for p in parts):
            shape = "[sentence, sentence with a word deleted]" if width == 2 else "one sentence"
            raise BehaviourConfigError(f"{key}.templates: each template is {shape}, got {template!r}")
        for part in parts:
            _check_slots(part, lexicon, key)
        templates.append(parts)
    expect, falls, vary = spec.get("expect"), spec.get("falls"), spec.get("vary")
    for field, value, needed in (("expect", expect, "mft"), ("falls", falls, "directional")):
        if (test == needed) != (value is not None):
            raise BehaviourConfigError(f"{key}.{field} is {'required' if test == needed else 'only'} for {needed}")
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise BehaviourConfigError(f"{key}.{field} must be a class id (0, 1, ...), got {value!r}")
    if test == "invariance":
        if vary not in lexicon:
            raise BehaviourConfigError(f"{key}.vary must name a lexicon class, got {vary!r}")
        if any(not any(m[0] == vary for m in SLOT.findall(t[0])) for t in templates):
            raise BehaviourConfigError(f"{key}: every template must have a {{{vary}}} slot to vary")
    description = str(spec.get("description", name))
    return Capability(name, cast(TestType, test), description, tuple(templates), expect, falls, vary)


def _check_slots(template: str, lexicon: dict[str, list[Word]], key: str) -> None:
    leftover = SLOT.sub("", template)
    if "{" in leftover or "}" in leftover:
        raise BehaviourConfigError(f"{key}: template {template!r} has a malformed slot ({{class}}, {{class.form}})")
    for cls, _, form in SLOT.findall(template):
        if cls not in lexicon:
            raise BehaviourConfigError(f"{key}: template {template!r} names an unknown word class {cls!r}")
        for word in lexicon[cls]:
            if form and not (isinstance(word, dict) and form in word):
                raise BehaviourConfigError(f"{key}: lexicon.{cls} word {word!r} has no form {form!r}")
            if not form and not isinstance(word, str):
                raise BehaviourConfigError(f"{key}: {{{cls}}} needs a form, its words have {sorted(word)}")


def generate(config: BehaviourConfig) -> list[Case]:
    """Every capability's cases: `cases_per_capability` distinct ones each, the same for the same config."""
    return [case for capability in config.capabilities for case in _generate_capability(config, capability)]


def _generate_capability(config: BehaviourConfig, capability: Capability) -> list[Case]:
    rng = random.Random(f"{config.seed}/{capability.name}")  # str seeds are stable across processes and versions
    wanted = config.cases_per_capability
    cases: dict[tuple[str, ...], Case] = {}
    for draw in range(wanted * MAX_DRAWS_PER_CASE):
        if len(cases) == wanted:
            break
        template = capability.templates[draw % len(capability.templates)]
        choice = _draw(template, config.lexicon, rng)
        texts: tuple[str, ...]
        if capability.test == "invariance":
            assert capability.vary is not None
            used = choice[(capability.vary, "1")]
            others = [w for w in config.lexicon[capability.vary] if w not in choice.values()]
            swapped = {**choice, (capability.vary, "1"): rng.choice(others)} if others else choice
            texts = (_render(template[0], choice), _render(template[0], swapped))
            if used == swapped[(capability.vary, "1")]:
                continue
        else:
            texts = tuple(_render(part, choice) for part in template)
        cases.setdefault(texts, Case(capability.name, capability.test, texts, capability.expect, capability.falls))
    if len(cases) < wanted:
        raise BehaviourConfigError(
            f"capability {capability.name}: only {len(cases)} distinct cases from its templates and lexicon, "
            f"{wanted} wanted: add templates or words, or lower cases_per_capability"
        )
    return list(cases.values())


def _draw(template: tuple[str, ...], lexicon: dict[str, list[Word]], rng: random.Random) -> dict[tuple[str, str], Word]:
    """A word for each distinct slot key (class, index) of the template, distinct within a class."""
    keys = sorted({(cls, index or "1") for part in template for cls, index, _ in SLOT.findall(part)})
    choice: dict[tuple[str, str], Word] = {}
    for cls in sorted({cls for cls, _ in keys}):
        indices = [index for c, index in keys if c == cls]
        if len(indices) > len(lexicon[cls]):
            raise BehaviourConfigError(f"template {template!r} needs {len(indices)} words of {cls}, it has fewer")
        for index, word in zip(indices, rng.sample(lexicon[cls], len(indices)), strict=True):
            choice[(cls, index)] = word
    return choice


def _render(template: str, choice: dict[tuple[str, str], Word]) -> str:
    def fill(match: re.Match[str]) -> str:
        cls, index, form = match.group(1), match.group(2) or "1", match.group(3)
        word = choice[(cls, index)]
        return word[form] if isinstance(word, dict) and form else str(word)

    text = SLOT.sub(fill, template)
    return text[:1].upper() + text[1:]  # a template may open with a slot ("{number} boys ...")
