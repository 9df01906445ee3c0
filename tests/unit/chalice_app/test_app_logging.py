"""Prediction log lines on stdout: one JSON object per prediction, every schema field, the text's hash, and the
raw text only when LOG_RAW_TEXT allows it."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.app_harness import FAKE_VERSION, Api, chalicelib, configure

ISO_UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TYPES = {"string": str, "number": (int, float), "integer": int, "boolean": bool}


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every stdout line of the request(s) so far, parsed (each must be one JSON object)."""
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines()]


def predictions_logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [line for line in lines(capsys) if line["type"] == "prediction"]


def test_one_line_per_prediction_with_every_field(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    schema = chalicelib("contract.log_line")
    texts = ["The cat sat.", "Cat the sat.", "Ünïcödé 😀 עברית", "x\x00y"]
    capsys.readouterr()
    status, payload = api.post({"texts": texts})
    assert status == 200
    logged = predictions_logged(capsys)
    assert len(logged) == len(texts)
    for index, (line, text, prediction) in enumerate(zip(logged, texts, payload["predictions"], strict=True)):
        assert set(line) == set(schema.PREDICTION_FIELDS)
        assert list(line) == list(schema.PREDICTION_FIELDS)
        for name, described in schema.PREDICTION_FIELDS.items():
            kind = described.split(":")[0]
            assert isinstance(line[name], TYPES[kind]), (name, line[name])
        assert line["log_schema"] == schema.LOG_SCHEMA_VERSION == 1
        assert line["type"] == "prediction"
        assert ISO_UTC_MS.match(line["timestamp"]), line["timestamp"]
        assert line["request_id"] == payload["request_id"]
        assert line["model_version"] == FAKE_VERSION
        assert line["label"] == prediction["label"]
        assert line["score"] == prediction["score"]
        assert line["p_acceptable"] == prediction["probabilities"]["acceptable"]
        assert line["batch_size"] == len(texts)
        assert line["index"] == index
        assert line["n_chars"] == len(text)
        assert line["n_tokens"] == prediction["n_tokens"]
        assert line["truncated"] is prediction["truncated"]
        assert line["latency_ms"] >= line["inference_ms"] >= 0
        assert line["text_sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert "text" not in line


def test_raw_text_never_appears_by_default(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    api.post({"text": "A secret sentence about Zanzibar."})
    assert "Zanzibar" not in capsys.readouterr().out


def test_raw_text_is_logged_when_allowed(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    configure(api.model, log_raw_text=True)
    texts = ["A sentence about Zanzibar.", "emoji 😀 and \x00 NUL"]
    capsys.readouterr()
    api.post({"texts": texts})
    logged = predictions_logged(capsys)
    assert [line["text"] for line in logged] == texts
    assert all(set(line) == set(chalicelib("contract.log_line").PREDICTION_FIELDS) | {"text"} for line in logged)


def test_lines_are_ascii_so_any_stdout_takes_them(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    configure(api.model, log_raw_text=True)
    capsys.readouterr()
    api.post({"text": "naïve 😀 \u2028 line separator"})
    out = capsys.readouterr().out
    assert out.isascii()
    assert len(out.splitlines()) == 1


@pytest.mark.parametrize("body", [{"text": ""}, {"texts": []}, {"nope": 1}, b"{bad"])
def test_refused_requests_log_no_prediction(api: Api, capsys: pytest.CaptureFixture[str], body: Any) -> None:
    capsys.readouterr()
    assert api.post(body)[0] >= 400
    assert predictions_logged(capsys) == []


def test_each_request_has_its_own_request_id(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    api.post({"text": "One."})
    api.post({"text": "Two."})
    ids = [line["request_id"] for line in predictions_logged(capsys)]
    assert len(ids) == 2
    assert ids[0] != ids[1]


def test_timestamp_format() -> None:
    stamp = chalicelib("contract.json_logging").utc_timestamp(datetime(2026, 11, 26, 7, 2, 52, 123456, tzinfo=UTC))
    assert stamp == "2026-11-26T07:02:52.123Z"
