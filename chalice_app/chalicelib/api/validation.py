"""Request validation for POST /predict: parse the body, check its schema and limits, or raise ApiError.

Accepted: `{"text": "<sentence>"}` or `{"texts": ["<sentence>", ...]}` (1..max_batch items), nothing else.
The first problem found is reported; `field` names where it is (`text`, `texts`, `texts[3]`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from .errors import ApiError

FIELDS = frozenset({"text", "texts"})
NAMED_AT_MOST = 3
"""An error names at most this many offending keys, each cut to NAME_CHARS characters: an error body stays small
(a few hundred bytes) whatever the request holds."""
NAME_CHARS = 40

NO_CONTENT_CATEGORIES = frozenset({"Cc", "Cf", "Mn"})
"""Control, format (zero-width, BOM, bidi marks) and non-spacing combining characters: a BERT-style tokenizer's
normaliser drops them (clean_text, strip_accents), so a text made only of them gives the model nothing to read."""


def carries_nothing(char: str) -> bool:
    """Whitespace (Python's str.isspace()), a NO_CONTENT_CATEGORIES character or U+FFFD."""
    return char.isspace() or char == "\ufffd" or unicodedata.category(char) in NO_CONTENT_CATEGORIES


def _content_pattern() -> str:
    """A character class of every Basic Multilingual Plane character that carries something (not carries_nothing),
    written as \\uXXXX ranges, which ECMA-262 and Python's re read alike."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if not 0xD800 <= code <= 0xDFFF and carries_nothing(chr(code)):  # surrogates stay "content": UTF-16
            # engines (a JavaScript client) then count a character beyond the BMP as content, as Python does
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    parts = [f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges]
    return "[^" + "".join(parts) + "]"


TEXT_PATTERN = _content_pattern()
"""Finds a character that carries something (a test checks every code point in both regex dialects). A text in
which it finds nothing is refused: `empty_text` when it is only whitespace, `no_content` otherwise. The OpenAPI
schema publishes it as the texts' `pattern`, so clients and the server agree. Characters beyond the BMP count as
content here; the few that carry nothing are caught after tokenisation (`no_content` from the API)."""
_TEXT = re.compile(TEXT_PATTERN)


@dataclass(frozen=True)
class PredictRequest:
    """A valid request: the texts to classify, in order."""

    texts: list[str]
    single: bool = False  # sent as {"text": ...}


def parse_json(raw: bytes | str | None) -> Any:
    """The body as a JSON value; 400 invalid_json when it is empty, not UTF-8, not JSON or absurdly nested."""
    if raw is None or len(raw) == 0:
        raise ApiError("invalid_json", "the request body is empty: send a JSON object")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError("invalid_json", f"the request body is not valid JSON: {_short(err)}") from None


def validate_predict(payload: Any, *, max_batch: int, max_text_chars: int) -> PredictRequest:
    """Check a parsed body against the /predict schema and limits."""
    if not isinstance(payload, dict):
        raise ApiError("invalid_request", f"the body must be a JSON object, got {_json_type(payload)}")
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise ApiError("invalid_request", f"unknown field(s) {named(unknown)}: send only 'text' or 'texts'")
    if "text" in payload and "texts" in payload:
        raise ApiError("invalid_request", "send either 'text' or 'texts', not both")
    if "text" in payload:
        return PredictRequest([_check_text(payload["text"], "text", max_text_chars)], single=True)
    if "texts" not in payload:
        raise ApiError("invalid_request", "missing field: send {'text': '...'} or {'texts': ['...', ...]}")
    texts = payload["texts"]
    if not isinstance(texts, list):
        raise ApiError("invalid_request", f"'texts' must be a list of strings, got {_json_type(texts)}", field="texts")
    if not texts:
        raise ApiError("empty_batch", f"'texts' is empty: send 1 to {max_batch} texts", field="texts")
    if len(texts) > max_batch:
        raise ApiError(
            "too_many_items", f"'texts' has {len(texts)} items, at most {max_batch} are allowed", field="texts"
        )
    return PredictRequest([_check_text(text, f"texts[{i}]", max_text_chars) for i, text in enumerate(texts)])


def _check_text(value: Any, where: str, max_text_chars: int) -> str:
    if not isinstance(value, str):
        raise ApiError("invalid_request", f"{where} must be a string, got {_json_type(value)}", field=where)
    if len(value) > max_text_chars:
        raise ApiError(
            "text_too_long", f"{where} has {len(value)} characters, at most {max_text_chars} are allowed", field=where
        )
    if _TEXT.search(value) is None:
        if all(char.isspace() for char in value):
            raise ApiError("empty_text", f"{where} is empty or only whitespace", field=where)
        raise ApiError(
            "no_content",
            f"{where} has nothing the model reads: only control, format or zero-width characters",
            field=where,
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError("invalid_text", f"{where} holds a lone UTF-16 surrogate", field=where) from None
    return value


def named(keys: list[str]) -> str:
    """The first NAMED_AT_MOST keys, each cut to NAME_CHARS characters, and how many more there are."""
    shown = [repr(key if len(key) <= NAME_CHARS else key[:NAME_CHARS] + "...") for key in keys[:NAMED_AT_MOST]]
    more = len(keys) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(err: Exception, limit: int = 200) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= limit else text[:limit] + "..."
