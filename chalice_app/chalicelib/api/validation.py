"""Request validation for POST /predict: parse the body, check its schema and limits, or raise ApiError.

Accepted: `{"text": "<sentence>"}` or `{"texts": ["<sentence>", ...]}` (1..max_batch items), nothing else.
The first problem found is reported; `field` names where it is (`text`, `texts`, `texts[3]`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import ApiError

FIELDS = frozenset({"text", "texts"})
NAMED_AT_MOST = 3
"""An error names at most this many offending keys, each cut to NAME_CHARS characters: an error body stays small
(a few hundred bytes) whatever the request holds."""
NAME_CHARS = 40

TEXT_PATTERN = r"[^\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""Finds a character that is not whitespace (whitespace as Python's str.isspace() defines it; a test checks every
code point). A text in which it finds nothing is refused with `empty_text`. The OpenAPI schema publishes it as the
texts' `pattern` (ECMA-262 and Python's re read it alike), so clients and the server agree on "only whitespace";
ECMA's `\\S` would not: it counts U+FEFF as whitespace and U+001C..U+001F and U+0085 as text."""
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
        raise ApiError("empty_text", f"{where} is empty or only whitespace", field=where)
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
