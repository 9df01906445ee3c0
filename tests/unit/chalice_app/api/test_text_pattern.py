"""The texts' `pattern` the OpenAPI document publishes is the rule the server applies for "nothing to read".

Found by the schemathesis run (tests/integration/test_api_fuzz.py): the schema allowed `{"text": "\\u00a0"}`
(minLength 1, whitespace described only in prose) and the server refused it with 422 empty_text. Now the server
applies the published pattern itself. Then it found `{"text": "\\u000f\\u0087"}`: schema-valid, but the model
reads nothing of control characters (422 no_content); the pattern now also leaves out what a BERT normaliser
drops. Python's re and an ECMA-262 engine (jsonschema-rs, what schemathesis validates with) must read it alike,
for every code point.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import jsonschema_rs
import pytest

from tests.support.app_harness import Api, assert_error, chalicelib

SURROGATES = range(0xD800, 0xE000)


def pattern() -> str:
    return str(chalicelib("api.validation").TEXT_PATTERN)


def code_points() -> list[str]:
    return [chr(c) for c in range(0x110000) if c not in SURROGATES]


def nothing(char: str) -> bool:
    """The rule in words: whitespace, control, format and combining marks of the BMP, and U+FFFD, carry nothing."""
    in_bmp = ord(char) < 0x10000
    return char.isspace() or char == "\ufffd" or (in_bmp and unicodedata.category(char) in ("Cc", "Cf", "Mn"))


def test_python_reads_the_pattern_as_the_rule_for_every_code_point() -> None:
    finds = re.compile(pattern()).search
    assert [hex(ord(c)) for c in code_points() if (finds(c) is None) != nothing(c)] == []


def test_an_ecma_262_engine_reads_it_the_same_way() -> None:
    validator = jsonschema_rs.validator_for({"type": "string", "pattern": pattern()})
    assert [hex(ord(c)) for c in code_points() if validator.is_valid(c) == nothing(c)] == []


@pytest.mark.parametrize("text", ["\u00a0", "\x1c", "\x1f\x85", " \u3000\u2028"], ids=repr)
def test_texts_of_python_whitespace_only_are_empty(api: Api, text: str) -> None:
    assert_error(*api.post({"text": text}), 422, "empty_text")


@pytest.mark.parametrize("text", ["\ufeff", "\u200b", "\u000f\u0087\u008a", "\u0301", " \u200b\u00ad "], ids=repr)
def test_texts_of_nothing_to_read_are_no_content(api: Api, text: str) -> None:
    assert_error(*api.post({"text": text}), 422, "no_content")


@pytest.mark.parametrize("text", ["a\u00a0", "\u200bword", "e\u0301", "𓀀"], ids=repr)
def test_one_readable_character_is_text(api: Api, text: str) -> None:
    status, payload = api.post({"text": text})
    assert status == 200, payload


def test_the_document_publishes_the_pattern_for_text_and_texts(api: Api) -> None:
    status, document = api.get("/openapi.json")
    assert status == 200
    single, batch = document["components"]["schemas"]["PredictRequest"]["oneOf"]
    texts_items: dict[str, Any] = batch["properties"]["texts"]["items"]
    assert single["properties"]["text"]["pattern"] == texts_items["pattern"] == pattern()
