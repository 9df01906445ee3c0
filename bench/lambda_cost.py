"""What a Lambda invocation costs, and which memory size to deploy: the arithmetic of `make bench-lambda`.

Lambda bills each invocation's duration rounded up to the billing granularity (1 ms), times the memory configured
in GB (MB / 1024), at the architecture's price per GB-second, plus a price per request; API Gateway's REST API adds
its own price per request. The prices live in a dated file (conf/bench/lambda_prices.yaml) naming their source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ARCHITECTURES = ("x86_64", "arm64")
MB_PER_GB = 1024
PER_MILLION = 1_000_000
_ROUNDING_SLACK_MS = 1e-9
"""A measured 3.0 ms read back as 3.0000000001 from floats is billed 3 ms, not 4."""


class PriceFileError(ValueError):
    """The price file is missing a figure or holds a wrong one; the message names the key."""


@dataclass(frozen=True)
class Prices:
    """Lambda's and API Gateway's published prices (USD) on the day `taken`."""

    taken: str
    region: str
    lambda_request_per_million: float
    gb_second: Mapping[str, float]
    granularity_ms: int
    api_gateway_request_per_million: float

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Prices:
        """Prices from the parsed YAML of conf/bench/lambda_prices.yaml; PriceFileError names what is wrong."""
        lam = _section(raw, "lambda")
        gateway = _section(raw, "api_gateway_rest")
        gb_second = _section(lam, "gb_second")
        return cls(
            taken=_text(raw, "taken"),
            region=_text(raw, "region"),
            lambda_request_per_million=_price(lam, "request_per_million"),
            gb_second={arch: _price(gb_second, arch) for arch in ARCHITECTURES},
            granularity_ms=int(_price(lam, "billing_granularity_ms")),
            api_gateway_request_per_million=_price(gateway, "request_per_million"),
        )


def load_prices(path: Path) -> Prices:
    """The price file at `path`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise PriceFileError(f"cannot read the price file {path}: {err}") from None
    if not isinstance(raw, Mapping):
        raise PriceFileError(f"{path} must be a YAML mapping (see conf/bench/lambda_prices.yaml)")
    try:
        return Prices.from_mapping(raw)
    except PriceFileError as err:
        raise PriceFileError(f"{path}: {err}") from None


def billed_ms(duration_ms: float, granularity_ms: int = 1) -> int:
    """Lambda's billed duration: the duration rounded up to the granularity (at least one unit)."""
    if duration_ms < 0:
        raise ValueError(f"a duration cannot be negative, got {duration_ms}")
    units = math.ceil(duration_ms / granularity_ms - _ROUNDING_SLACK_MS)
    return max(1, units) * granularity_ms


def invocation_cost(billed: float, memory_mb: int, architecture: str, prices: Prices, gateway: bool = True) -> float:
    """USD of one invocation billed `billed` ms at `memory_mb`: duration + Lambda request (+ API Gateway request)."""
    if architecture not in prices.gb_second:
        raise ValueError(f"unknown architecture {architecture!r}: expected one of {', '.join(prices.gb_second)}")
    duration = billed / 1000 * memory_mb / MB_PER_GB * prices.gb_second[architecture]
    requests = prices.lambda_request_per_million + (prices.api_gateway_request_per_million if gateway else 0.0)
    return duration + requests / PER_MILLION


def cost_per_million(
    durations_ms: Sequence[float],
    memory_mb: int,
    architecture: str,
    prices: Prices,
    texts_per_request: int = 1,
    gateway: bool = True,
) -> float:
    """USD per million texts answered by requests of `texts_per_request` texts that took `durations_ms` each."""
    if not durations_ms:
        raise ValueError("no durations to price")
    mean_billed = sum(billed_ms(d, prices.granularity_ms) for d in durations_ms) / len(durations_ms)
    per_request = invocation_cost(mean_billed, memory_mb, architecture, prices, gateway)
    return per_request * PER_MILLION / texts_per_request


@dataclass(frozen=True)
class Candidate:
    """One memory size as the recommendation sees it: its p95 latencies and its cost per million predictions."""

    memory_mb: int
    p95_ms: float
    cost: float
    batch_p95_ms: float | None = None


@dataclass(frozen=True)
class Recommendation:
    """The size chosen, the latency bound it met and why."""

    memory_mb: int
    p95_bound_ms: float
    reason: str


def recommend(
    candidates: Sequence[Candidate], p95_within: float, batch_p95_within: float | None = None
) -> Recommendation:
    """The cheapest candidate whose p95 is at most (1 + p95_within) x the best p95 (and, when `batch_p95_within` is
    given, whose batch p95 is at most (1 + batch_p95_within) x the best batch p95); ties go to less memory. When no
    candidate meets both bounds, the one with the lowest batch p95 among those meeting the first."""
    if not candidates:
        raise ValueError("no memory size answered every invocation: nothing to recommend")
    if p95_within < 0 or (batch_p95_within is not None and batch_p95_within < 0):
        raise ValueError(f"the tolerances must be >= 0, got {p95_within} and {batch_p95_within}")
    best = min(c.p95_ms for c in candidates)
    bound = best * (1 + p95_within)
    eligible = [c for c in candidates if c.p95_ms <= bound]
    rule = f"p95 single-sentence latency within {p95_within:.0%} of the best ({best:.2f} ms, bound {bound:.2f} ms)"
    if batch_p95_within is not None:
        batches = [c.batch_p95_ms for c in candidates if c.batch_p95_ms is not None]
        if len(batches) != len(candidates):
            raise ValueError("a batch bound needs every candidate's batch p95")
        best_batch = min(batches)
        batch_bound = best_batch * (1 + batch_p95_within)
        eligible = [c for c in eligible if c.batch_p95_ms is not None and c.batch_p95_ms <= batch_bound]
        rule += (
            f" and p95 batch latency within {batch_p95_within:.0%} of the best ({best_batch:.1f} ms, bound "
            f"{batch_bound:.1f} ms)"
        )
    if not eligible:  # the fastest sizes for one sentence and for a batch differ too much: the batch decides
        within_single = [c for c in candidates if c.p95_ms <= bound]
        chosen = min(within_single, key=lambda c: (c.batch_p95_ms or 0.0, c.cost, c.memory_mb))
        reason = f"no size has {rule}: the lowest batch p95 among those within the single-sentence bound"
        return Recommendation(chosen.memory_mb, bound, reason)
    chosen = min(eligible, key=lambda c: (c.cost, c.memory_mb))
    sizes = ", ".join(str(c.memory_mb) for c in sorted(eligible, key=lambda c: c.memory_mb))
    reason = f"cheapest per million single predictions (${chosen.cost:.4f}) among the sizes with {rule}: {sizes} MB"
    return Recommendation(chosen.memory_mb, bound, reason)


def _section(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if not isinstance(value, Mapping):
        raise PriceFileError(f"'{key}' must be a mapping")
    return value


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None or not str(value).strip():
        raise PriceFileError(f"'{key}' is missing (the date the prices were taken and their region are required)")
    return str(value)


def _price(raw: Mapping[str, Any], key: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise PriceFileError(f"'{key}' must be a positive number, got {value!r}")
    return float(value)
