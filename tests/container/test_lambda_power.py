"""bench-lambda (bench/lambda_power.py) on the session's Lambda image, one memory size and a few invocations.

The image is the one tests/container/conftest.py builds with `make image` on the smoke bundle. The size runs
under Lambda's CPU share (`docker run --cpus`), and the thread comparison beside it. Asserted: every invocation
answered, the quota Docker set is the one chalicelib/api/cpu.py reads inside the container (so the predictor
sizes its threads from it), cold starts and costs measured, the three outputs written. No timing thresholds.
"""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from bench.lambda_config import load_config
from bench.lambda_power import run_benchmark
from bench.lambda_report import write_outputs
from bench.machine import machine_info

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SENTENCES = ["The book was written by John.", "Him voted.", "She voted for herself.", "emoji 😀 and עברית"]


def test_one_size_under_its_cpu_share_is_timed_priced_and_reported(
    docker_env: dict[str, str], lambda_image: str, tmp_path: Path
) -> None:
    config = replace(
        load_config(),
        memory_sizes_mb=(1024,),
        rounds=1,
        cold_starts=1,
        warmup=1,
        single_requests=5,
        batch_requests=2,
        saturated_requests=3,
        pause_ms=10,
    )
    results = run_benchmark(docker_env, lambda_image, config, SENTENCES)

    (row,) = results["sizes"]
    assert row["errors"] == 0
    assert (row["single"]["ok"], row["batch"]["ok"], row["saturated_single"]["ok"]) == (5, 2, 3)
    assert row["inside"]["quota"] == pytest.approx(1024 / 1769, abs=0.001)
    assert (row["inside"]["auto_threads"], row["inside"]["limited"]) == (1, True)
    assert 0 < row["cold"]["process_to_init_s_median"] < row["cold"]["first_answer_s_median"]
    assert row["cost_per_million"]["single"]["x86_64_with_api_gateway"] > 3.5  # API Gateway alone is $3.50
    forced = results["threads"][1]
    assert (forced["environment"], forced["errors"]) == ({"ORT_THREADS": "2"}, 0)
    assert results["recommendation"]["prod"]["memory_mb"] == 1024

    head = {
        "command": "test",
        "bundle": "smoke",
        "model_version": "m-smoke",
        "model_file": "model.onnx",
        "machine": machine_info(("onnxruntime",)),
        "notes": [],
    }
    write_outputs(head | results, tmp_path / "lambda_power")
    assert json.loads((tmp_path / "lambda_power.json").read_text())["sizes"][0]["memory_mb"] == 1024
    assert "| 1024 | 0.579 |" in (tmp_path / "lambda_power.md").read_text()
    png = (tmp_path / "lambda_power.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24])[0] > 0
