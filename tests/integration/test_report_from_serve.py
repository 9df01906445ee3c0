"""From `make serve` to the drift report: the real Chalice dev server on the session's smoke bundle writes its
prediction lines to stdout (a file here, what `make serve` tees into artifacts/monitoring/predictions.log), and
`python -m monitoring.drift.report` judges them against the bundle's own reference.

Undrifted: the whole dev set, the reference's own sentences, gives PSI 0 and exit 0. Drifted: the same words
shuffled and run together four sentences at a time (long, ungrammatical input) gives ALERT and exit 1.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.chalice_local import Server, chalice_local
from model_training.data.cola import read_cola_tsv
from tests.conftest import ROOT
from tests.support.report_command import run_report

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEV = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"


@pytest.fixture(scope="module")
def server(smoke_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with chalice_local(smoke_bundle, tmp_path_factory.mktemp("serve") / "stdout.log") as running:
        yield running


def predict_all(server: Server, texts: list[str], batch: int) -> None:
    for start in range(0, len(texts), batch):
        payload = {"text": texts[start]} if batch == 1 else {"texts": texts[start : start + batch]}
        status, body = server.post(payload)
        assert status == 200, body


def new_lines(server: Server, since: int, path: Path, predictions: int) -> int:
    """Copy what the server printed after byte `since` into `path` once it holds `predictions` prediction lines
    (the last response can reach the client before its lines reach the file); the new offset."""
    deadline = time.monotonic() + 30
    while True:
        data = server.stdout_path.read_bytes()
        complete = data[since : data.rfind(b"\n") + 1]
        if complete.count(b'"type":"prediction"') >= predictions or time.monotonic() > deadline:
            path.write_bytes(complete)
            return since + len(complete)
        time.sleep(0.1)


def report(bundle: Path, log: Path) -> tuple[int, dict[str, Any], str]:
    out = log.with_suffix(".html")
    result = run_report(bundle, log, out, timeout=300)
    return result.returncode, json.loads(out.with_suffix(".json").read_text()), result.stderr


def shuffled_run_ons(sentences: list[str], seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for start in range(0, len(sentences) - 3, 2):
        words = " ".join(sentences[start : start + 4]).split()
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts


def test_served_predictions_of_the_dev_set_match_the_reference_then_drift(
    server: Server, smoke_bundle: Path, tmp_path: Path
) -> None:
    sentences = [row.sentence for row in read_cola_tsv(DEV)]
    predict_all(server, sentences, batch=1)  # a request's latency grows with its batch: keep the SLO signal quiet
    offset = new_lines(server, 0, tmp_path / "undrifted.log", len(sentences))

    code, summary, stderr = report(smoke_bundle, tmp_path / "undrifted.log")
    assert code == 0, stderr
    assert summary["status"] == "OK", summary["signals"]
    assert summary["source"]["predictions"] == len(sentences)
    values = {s["name"]: s["value"] for s in summary["signals"]}
    assert values["score_psi"] == pytest.approx(0.0, abs=1e-9)  # the reference is these very predictions
    assert values["length_psi"] == pytest.approx(0.0, abs=1e-9)
    assert values["other_model_share"] == 0.0
    manifest = json.loads((smoke_bundle / "manifest.json").read_text())
    assert summary["operations"]["model_versions"] == {manifest["model_version"]: len(sentences)}

    drifted = shuffled_run_ons(sentences)
    predict_all(server, drifted, batch=16)
    new_lines(server, offset, tmp_path / "drifted.log", len(drifted))
    code, summary, stderr = report(smoke_bundle, tmp_path / "drifted.log")
    assert code == 1, stderr
    assert summary["status"] == "ALERT"
    assert summary["source"]["predictions"] == len(drifted)
    assert {s["name"]: s["status"] for s in summary["signals"]}["length_psi"] == "ALERT"
