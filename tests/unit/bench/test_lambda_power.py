"""bench-lambda's bookkeeping without Docker: rounds pooled into one row, costs from the billed durations, the
recommendation per stage, command-line overrides. (The benchmark itself runs with `make bench-lambda`; the
container test runs it on the session's image.)"""

from __future__ import annotations

import argparse

import pytest

from bench.lambda_config import ConfigError, Variant, load_config
from bench.lambda_cost import load_prices
from bench.lambda_power import Raw, apply_overrides, latency_stats, pooled, recommendations, summarize
from bench.load_client import LoadResult

CONFIG = load_config()
PRICES = load_prices(CONFIG.prices)


def result(latencies_ms: list[float], errors: int = 0, texts: int = 1) -> LoadResult:
    return LoadResult(len(latencies_ms) + errors, 1, texts, [ms / 1000 for ms in latencies_ms], errors)


def raw(single_ms: list[float], batch_ms: list[float], init_s: float = 0.2, errors: int = 0) -> Raw:
    return Raw(
        colds=[{"run_to_init_s": init_s + 0.3, "process_to_init_s": init_s, "first_answer_s": init_s + 0.6}],
        results={"single": result(single_ms, errors), "batch": result(batch_ms, texts=32)},
        inside={"quota": 0.579, "affinity": 2, "auto_threads": 1, "limited": True, "cfs_period_us": 100000},
        memory_usage="68MiB / 1GiB",
        load_average=[1.0, 1.0, 1.0],
    )


def test_rounds_are_pooled_before_percentiles_are_taken() -> None:
    merged = pooled([result([1.0, 2.0]), result([3.0], errors=1)])
    assert (merged.requests, merged.errors, sorted(merged.latencies_s)) == (4, 1, [0.001, 0.002, 0.003])


def test_latency_stats_give_percentiles_and_the_mean_billed_duration() -> None:
    stats = latency_stats(result([2.2, 2.9, 3.4, 10.0]), granularity_ms=1)
    assert stats["p50_ms"] == pytest.approx(3.15)  # between 2.9 and 3.4
    assert stats["billed_mean_ms"] == 5.0  # (3 + 3 + 4 + 10) / 4
    assert stats["max_ms"] == 10.0
    assert stats["errors"] == 0


def test_a_row_holds_both_rounds_and_prices_the_billed_durations() -> None:
    row = summarize(Variant(1024), [raw([2.5] * 10, [40.2] * 3), raw([2.9] * 10, [49.9] * 3)], CONFIG, PRICES, 2)
    assert row["single"]["ok"] == 20
    assert row["batch"]["ok"] == 6
    assert row["cold"]["process_to_init_s_median"] == 0.2
    assert (row["vcpu_share"], row["cpus_given"], row["beyond_one_vcpu"]) == (0.579, 0.579, False)
    # single: every call billed 3 ms at 1 GB: 0.003 x $0.0000166667 x 1e6 + $0.20 = $0.25; + $3.50 API Gateway
    assert row["cost_per_million"]["single"]["x86_64"] == pytest.approx(0.25, abs=1e-4)
    assert row["cost_per_million"]["single"]["x86_64_with_api_gateway"] == pytest.approx(3.75, abs=1e-4)
    # batch: billed 41 and 50 ms, mean 45.5 ms: (0.0455 x $0.0000166667 + $0.2e-6) x 1e6 / 32 = $0.0299
    assert row["cost_per_million"]["batch"]["x86_64"] == pytest.approx(0.0299, abs=1e-4)
    assert row["errors"] == 0


def test_failed_sizes_are_never_recommended() -> None:
    fast_but_failing = summarize(Variant(3008), [raw([1.0] * 10, [20.0] * 3, errors=2)], CONFIG, PRICES, 2)
    slow = summarize(Variant(512), [raw([9.0] * 10, [300.0] * 3)], CONFIG, PRICES, 2)
    medium = summarize(Variant(1024), [raw([5.0] * 10, [100.0] * 3)], CONFIG, PRICES, 2)
    chosen = recommendations([fast_but_failing, slow, medium], CONFIG)
    # dev: single p95 within 50% of the best working size (5 ms -> 7.5 ms): 1024 MB only
    assert chosen["dev"]["memory_mb"] == 1024
    assert chosen["prod"]["memory_mb"] == 1024
    assert "1024 MB" in chosen["dev"]["reason"]


def test_the_cheapest_size_within_the_bound_is_chosen() -> None:
    rows = [
        summarize(Variant(512), [raw([4.0] * 10, [300.0] * 3)], CONFIG, PRICES, 2),
        summarize(Variant(1024), [raw([3.5] * 10, [150.0] * 3)], CONFIG, PRICES, 2),
        summarize(Variant(2048), [raw([3.2] * 10, [140.0] * 3)], CONFIG, PRICES, 2),
    ]
    chosen = recommendations(rows, CONFIG)
    # dev (single p95 within 50% of 3.2 ms): all three; 512 MB is cheapest
    assert chosen["dev"]["memory_mb"] == 512
    # prod (single within 25%, batch within 25% of 140 ms = 175 ms): 1024 and 2048 MB; 1024 MB is cheaper
    assert chosen["prod"]["memory_mb"] == 1024


def namespace(**given: object) -> argparse.Namespace:
    names = ("rounds", "cold_starts", "warmup", "single_requests", "batch_requests", "saturated_requests", "pause_ms")
    defaults: dict[str, object] = dict.fromkeys(names) | {"sizes": None, "no_threads": False, "before_image": None}
    return argparse.Namespace(**(defaults | given))


def test_command_line_options_override_the_config() -> None:
    config = apply_overrides(CONFIG, namespace(sizes=(1024,), single_requests=5, no_threads=True))
    assert (config.memory_sizes_mb, config.single_requests, config.threads_memory_mb) == ((1024,), 5, None)
    assert config.batch_requests == CONFIG.batch_requests


def test_a_bad_override_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="outside what Lambda accepts"):
        apply_overrides(CONFIG, namespace(sizes=(100,)))
