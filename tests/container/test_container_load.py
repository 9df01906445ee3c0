"""The load tool's container path (bench/lambda_container.py) on the session's Lambda image, with a small N.

The image is the one tests/container/conftest.py builds with `make image` on the smoke bundle. A fresh container
is started as Lambda would (read-only, tmpfs /tmp, 1 GiB), timed to its first answer, then driven event by event
through the Lambda Runtime API with single and batch bodies. Asserted: zero errors, every invocation timed, a cold
start and an image size measured. No timing thresholds.
"""

from __future__ import annotations

import pytest

from bench import lambda_container
from bench.load import body_sets
from bench.load_client import run_load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SENTENCES = ["The book was written by John.", "Him voted.", "She voted for herself.", "emoji 😀 and עברית"]


def test_container_answers_every_invocation_of_a_small_load(docker_env: dict[str, str], lambda_image: str) -> None:
    bodies = body_sets(SENTENCES)
    with lambda_container.started_container(docker_env, lambda_image, bodies["single"][0].payload) as container:
        assert container.cold_start_s > 0
        for name, body_list in bodies.items():
            result = run_load(container.invoke, body_list, requests=8, concurrency=1)
            assert (result.errors, len(result.latencies_s)) == (0, 8), (name, result.error_samples)
        assert "MiB" in container.memory_usage() or "GiB" in container.memory_usage()
    assert lambda_container.image_size_bytes(docker_env, lambda_image) > 0
