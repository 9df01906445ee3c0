"""A client can never cause a 5xx: arbitrary JSON values, texts, bytes and content types as requests (fake model;
the real model gets the same treatment in test_app_real_model.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.app_harness import Api, FakeModel, app_module, configure, new_client

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=20,
)
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=600)  # surrogates and controls too
bodies = (
    json_values
    | st.fixed_dictionaries({"text": json_values | any_text})
    | st.fixed_dictionaries({"texts": st.lists(json_values | any_text, max_size=40)})
    | st.fixed_dictionaries({"text": any_text}, optional={"texts": json_values, "extra": json_values})
)


@pytest.fixture(scope="module")
def fuzz_api() -> Iterator[Api]:
    model = FakeModel()
    configure(model)
    yield Api(new_client(), model)
    app_module().RUNTIME.reset()


def assert_no_server_error(status: int, payload: Any) -> None:
    assert status < 500, payload
    assert isinstance(payload, dict)
    if status == 200:
        assert payload["predictions"]
    else:
        assert set(payload) == {"error"}, payload
        assert payload["error"]["code"]


@FUZZ
@given(body=bodies)
def test_json_bodies(fuzz_api: Api, body: Any) -> None:
    assert_no_server_error(*fuzz_api.post(json.dumps(body).encode()))


@FUZZ
@given(text=any_text)
def test_texts(fuzz_api: Api, text: str) -> None:
    status, payload = fuzz_api.post(json.dumps({"text": text}).encode())
    assert_no_server_error(status, payload)
    assert status in (200, 413, 422)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_raw_bytes(fuzz_api: Api, raw: bytes) -> None:
    assert_no_server_error(*fuzz_api.post(raw))


@FUZZ
@given(
    content_type=st.sampled_from(["text/plain", "application/json", "application/x-www-form-urlencoded", "image/png"])
    | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    raw=st.binary(max_size=50),
)
def test_content_types(fuzz_api: Api, content_type: str, raw: bytes) -> None:
    status, payload, _ = fuzz_api.request("POST", "/predict", raw, content_type=content_type or None)
    assert_no_server_error(status, payload)
