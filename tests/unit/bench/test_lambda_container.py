"""Reading Docker's timestamps (a container's process start, which ends where Lambda's Init Duration begins)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.lambda_container import ContainerError, parse_docker_time


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-04T18:50:01.123456789Z", datetime(2026, 12, 4, 18, 50, 1, 123456, tzinfo=UTC)),
        ("2026-12-04T18:50:01Z", datetime(2026, 12, 4, 18, 50, 1, tzinfo=UTC)),
        ("2026-12-04T19:50:01.5+01:00", datetime(2026, 12, 4, 18, 50, 1, 500000, tzinfo=UTC)),
    ],
)
def test_docker_times_are_read_to_the_microsecond(raw: str, expected: datetime) -> None:
    assert parse_docker_time(raw) == expected.timestamp()


def test_an_unexpected_timestamp_is_a_clear_error() -> None:
    with pytest.raises(ContainerError, match="unexpected Docker timestamp"):
        parse_docker_time("0001-01-01 00:00:00")
