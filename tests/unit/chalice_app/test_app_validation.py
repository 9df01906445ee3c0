"""POST /predict input rules through Chalice's test client (fake model: fast). Each rule has its status and code:
400 invalid_json, 415 unsupported_media_type, 422 invalid_request / empty_text / empty_batch / invalid_text,
413 too_many_items / text_too_long; 405 from Chalice and 403 for unknown paths (API Gateway's answer)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.app_harness import MAX_BATCH, MAX_TEXT_CHARS, Api, assert_error


def assert_ok(status: int, payload: Any, n: int) -> list[dict[str, Any]]:
    assert status == 200, payload
    assert len(payload["predictions"]) == n
    return list(payload["predictions"])


class TestAccepted:
    def test_single_text(self, api: Api) -> None:
        status, payload = api.post({"text": "The cat sat on the mat."})
        (prediction,) = assert_ok(status, payload, 1)
        assert set(prediction) == {"label", "score", "probabilities", "truncated", "n_tokens"}
        assert prediction["label"] in ("acceptable", "unacceptable")
        assert prediction["score"] == prediction["probabilities"][prediction["label"]]
        assert payload["model_version"] == api.model.model_version

    def test_batch_keeps_order(self, api: Api) -> None:
        texts = ["one two", "three", "four five six"]
        status, payload = api.post({"texts": texts})
        predictions = assert_ok(status, payload, 3)
        assert [p["n_tokens"] for p in predictions] == [2, 1, 3]
        assert api.model.calls == [texts]

    def test_batch_of_exactly_max_batch(self, api: Api) -> None:
        assert_ok(*api.post({"texts": ["a sentence"] * MAX_BATCH}), MAX_BATCH)

    def test_text_of_exactly_max_chars(self, api: Api) -> None:
        assert_ok(*api.post({"text": "a" * MAX_TEXT_CHARS}), 1)

    def test_long_text_under_the_cap_is_truncated_not_refused(self, api: Api) -> None:
        text = " ".join(["word"] * 100)  # 100 tokens for the fake model, 499 characters
        (prediction,) = assert_ok(*api.post({"text": text}), 1)
        assert prediction["truncated"] is True
        assert prediction["n_tokens"] == 62

    @pytest.mark.parametrize(
        "text",
        [
            "Ünïcödé façade naïve café",
            "emoji 😀👍🏽 and a flag 🇳🇿",
            "control\x01chars\x1b[31m and bell\x07",
            "NUL\x00inside",
            "עברית מימין לשמאל",
            "mixed \u202eRTL override\u202c text",
            "zero\u200bwidth",
            "漢字とかな",
            "\ufeffBOM first",
        ],
    )
    def test_any_unicode_is_fine(self, api: Api, text: str) -> None:
        assert_ok(*api.post({"text": text}), 1)

    @pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "APPLICATION/JSON"])
    def test_json_content_type_variants(self, api: Api, content_type: str) -> None:
        assert_ok(*api.post({"text": "Fine."}, content_type=content_type), 1)

    def test_missing_content_type_is_taken_as_json(self, api: Api) -> None:
        """Chalice (like API Gateway's Lambda proxy) assumes application/json when no Content-Type is sent."""
        assert_ok(*api.post({"text": "Fine."}, content_type=None), 1)


class TestInvalidJson:
    @pytest.mark.parametrize(
        "body",
        [b"{bad", b"", b"{'text': 'single quotes'}", b'{"text": "unterminated', b"\xff\xfe\x00garbage", b"[" * 100_000],
        ids=["syntax", "empty", "single-quotes", "unterminated", "not-utf8", "deep-nesting"],
    )
    def test_unparseable_body_is_400(self, api: Api, body: bytes) -> None:
        assert_error(*api.post(body), 400, "invalid_json")
        assert api.model.calls == []


class TestSchema:
    @pytest.mark.parametrize("body", [[], ["text"], "text", 1, 1.5, None, True], ids=repr)
    def test_body_must_be_an_object(self, api: Api, body: Any) -> None:
        assert_error(*api.post(body), 422, "invalid_request")

    def test_missing_both_fields(self, api: Api) -> None:
        assert_error(*api.post({}), 422, "invalid_request")

    def test_both_fields(self, api: Api) -> None:
        assert_error(*api.post({"text": "a", "texts": ["b"]}), 422, "invalid_request")

    @pytest.mark.parametrize("body", [{"text": "a", "lang": "en"}, {"sentence": "a"}, {"texts": ["a"], "x": None}])
    def test_unknown_fields(self, api: Api, body: dict[str, Any]) -> None:
        error = assert_error(*api.post(body), 422, "invalid_request")
        assert "unknown field" in error["message"]

    def test_many_long_unknown_keys_give_a_small_error(self, api: Api) -> None:
        """A 5 MB body of long non-ASCII keys: the error names three of them, cut short, and counts the rest."""
        keys = {f"{i:06d}" + "ключ" * 200: 0 for i in range(3200)}
        raw = json.dumps(keys, ensure_ascii=False).encode()
        assert len(raw) > 5_000_000
        status, payload, _ = api.request("POST", "/predict", raw)
        assert status == 422
        assert len(json.dumps(payload, ensure_ascii=False).encode()) < 16_000
        message = payload["error"]["message"]
        assert message.count("...") == 3
        assert "and 3197 more" in message
        assert len(message) < 400

    @pytest.mark.parametrize("value", [1, 1.5, True, False, None, ["a"], {"a": 1}], ids=repr)
    def test_text_must_be_a_string(self, api: Api, value: Any) -> None:
        error = assert_error(*api.post({"text": value}), 422, "invalid_request")
        assert error["field"] == "text"

    @pytest.mark.parametrize("value", ["a sentence", 3, True, None, {"0": "a"}], ids=repr)
    def test_texts_must_be_a_list(self, api: Api, value: Any) -> None:
        error = assert_error(*api.post({"texts": value}), 422, "invalid_request")
        assert error["field"] == "texts"

    @pytest.mark.parametrize("item", [1, 0.5, True, None, ["nested"], {"text": "a"}], ids=repr)
    def test_every_item_must_be_a_string(self, api: Api, item: Any) -> None:
        error = assert_error(*api.post({"texts": ["fine", item]}), 422, "invalid_request")
        assert error["field"] == "texts[1]"
        assert api.model.calls == []

    def test_empty_list(self, api: Api) -> None:
        assert_error(*api.post({"texts": []}), 422, "empty_batch")

    @pytest.mark.parametrize("text", ["", " ", "\t\n  ", "\u3000\u00a0"], ids=repr)
    def test_empty_or_whitespace_text(self, api: Api, text: str) -> None:
        assert_error(*api.post({"text": text}), 422, "empty_text")
        error = assert_error(*api.post({"texts": ["fine", text]}), 422, "empty_text")
        assert error["field"] == "texts[1]"

    def test_lone_surrogate_is_not_text(self, api: Api) -> None:
        """JSON may escape a lone UTF-16 surrogate; it is no Unicode character and no tokenizer takes it."""
        error = assert_error(*api.post(b'{"text": "bad \\ud800 half"}'), 422, "invalid_text")
        assert error["field"] == "text"
        assert api.model.calls == []


class TestLimits:
    def test_more_than_max_batch_items_is_413(self, api: Api) -> None:
        error = assert_error(*api.post({"texts": ["a"] * (MAX_BATCH + 1)}), 413, "too_many_items")
        assert str(MAX_BATCH) in error["message"]

    def test_text_over_the_cap_is_413(self, api: Api) -> None:
        error = assert_error(*api.post({"text": "a" * (MAX_TEXT_CHARS + 1)}), 413, "text_too_long")
        assert error["field"] == "text"
        error = assert_error(*api.post({"texts": ["a", "b" * (MAX_TEXT_CHARS + 1)]}), 413, "text_too_long")
        assert error["field"] == "texts[1]"
        assert api.model.calls == []


class TestTransport:
    @pytest.mark.parametrize(
        "content_type",
        ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
    )
    def test_wrong_content_type_is_415_with_the_json_error(self, api: Api, content_type: str) -> None:
        assert_error(*api.post({"text": "a"}, content_type=content_type), 415, "unsupported_media_type")
        assert api.model.calls == []

    def test_binary_content_type_is_415(self, api: Api) -> None:
        status, payload, _ = api.request("POST", "/predict", b"\x00\x01", content_type="application/octet-stream")
        assert_error(status, payload, 415, "unsupported_media_type")

    @pytest.mark.parametrize(("method", "path"), [("GET", "/predict"), ("DELETE", "/predict"), ("POST", "/health")])
    def test_wrong_method_is_405_with_the_json_error(self, api: Api, method: str, path: str) -> None:
        status, payload, headers = api.request(method, path, b"{}")
        assert_error(status, payload, 405, "method_not_allowed")
        assert headers["Allow"]

    @pytest.mark.parametrize("path", ["/nope", "/predict/extra", "/"])
    def test_unknown_path_is_api_gateways_403(self, api: Api, path: str) -> None:
        """API Gateway (and `chalice local`) answer unknown paths before the app runs: 403 with its own body.

        Chalice 1.34 cannot declare greedy catch-all routes or gateway responses, so the body is not ours.
        """
        status, payload, _ = api.request("GET", path)
        assert status == 403
        assert payload == {"message": "Missing Authentication Token"}

    def test_every_answer_carries_a_request_id(self, api: Api) -> None:
        for body in (json.dumps({"text": "a"}), json.dumps({"text": ""}), "{bad"):
            _, payload, headers = api.request("POST", "/predict", body)
            assert headers["X-Request-Id"]
            request_id = payload.get("request_id") or payload["error"]["request_id"]
            assert request_id == headers["X-Request-Id"]
