"""Lambda's billing arithmetic and the memory-size rule, with numbers worked out by hand."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from bench.lambda_cost import (
    Candidate,
    PriceFileError,
    Prices,
    billed_ms,
    cost_per_million,
    invocation_cost,
    load_prices,
    recommend,
)
from tests.conftest import ROOT

PRICES = Prices(
    taken="2026-12-04",
    region="us-east-1",
    lambda_request_per_million=0.20,
    gb_second={"x86_64": 0.0000166667, "arm64": 0.0000133334},
    granularity_ms=1,
    api_gateway_request_per_million=3.50,
)


class TestBilledDuration:
    @pytest.mark.parametrize(
        ("duration_ms", "billed"),
        [(2.01, 3), (2.0, 2), (2.0000000000004, 2), (0.2, 1), (0.0, 1), (49.999, 50), (50.001, 51)],
    )
    def test_rounds_up_to_the_millisecond(self, duration_ms: float, billed: int) -> None:
        assert billed_ms(duration_ms) == billed

    def test_a_coarser_granularity_rounds_up_to_its_multiple(self) -> None:
        assert billed_ms(101.0, granularity_ms=100) == 200

    def test_a_negative_duration_is_refused(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            billed_ms(-1.0)


class TestCost:
    def test_one_invocation_at_one_gb(self) -> None:
        # 3 ms at 1024 MB = 0.003 GB-s x $0.0000166667 = $5.00001e-8, + $0.20 / 1M requests
        assert invocation_cost(3, 1024, "x86_64", PRICES, gateway=False) == pytest.approx(5.00001e-8 + 2e-7)

    def test_a_million_single_predictions_at_1024_mb(self) -> None:
        # billed 3, 3, 3 ms: $0.0500001 duration + $0.20 requests; + $3.50 with API Gateway
        durations = [2.3, 2.9, 3.0]
        assert cost_per_million(durations, 1024, "x86_64", PRICES, gateway=False) == pytest.approx(0.2500001)
        assert cost_per_million(durations, 1024, "x86_64", PRICES) == pytest.approx(3.7500001)
        # arm64: 0.003 x 0.0000133334 x 1e6 = $0.0400002
        assert cost_per_million(durations, 1024, "arm64", PRICES, gateway=False) == pytest.approx(0.2400002)

    def test_a_million_sentences_in_batches_of_32_at_2048_mb(self) -> None:
        # 50.2 ms -> 51 ms billed: 0.051 s x 2 GB x $0.0000166667 = $1.7000034e-6, + $0.2e-6 + $3.5e-6 per request;
        # a million sentences are 31,250 requests: $5.4000034e-6 x 31,250 = $0.16875011
        assert cost_per_million([50.2], 2048, "x86_64", PRICES, texts_per_request=32) == pytest.approx(0.16875011)

    def test_the_mean_is_taken_over_billed_durations_not_raw_ones(self) -> None:
        # raw mean 1.5 ms would bill 2 ms; billed 1 and 2 ms average 1.5 ms
        assert cost_per_million([1.0, 2.0], 1024, "x86_64", PRICES, gateway=False) == pytest.approx(
            1e6 * (0.0015 * 0.0000166667) + 0.20
        )

    def test_an_unknown_architecture_is_refused(self) -> None:
        with pytest.raises(ValueError, match="arm64"):
            invocation_cost(3, 1024, "riscv", PRICES)

    def test_no_durations_is_refused(self) -> None:
        with pytest.raises(ValueError, match="no durations"):
            cost_per_million([], 1024, "x86_64", PRICES)


class TestRecommendation:
    SIZES: ClassVar[list[Candidate]] = [
        Candidate(512, p95_ms=9.0, cost=3.72),
        Candidate(1024, p95_ms=5.0, cost=3.76),
        Candidate(1536, p95_ms=4.4, cost=3.79),
        Candidate(2048, p95_ms=4.0, cost=3.83),
    ]

    def test_a_loose_bound_takes_the_cheapest_size(self) -> None:
        # best p95 4.0 ms; within 150%: bound 10 ms, every size qualifies, 512 MB is cheapest
        assert recommend(self.SIZES, 1.5).memory_mb == 512

    def test_a_bound_of_half_again_the_best_excludes_the_slowest(self) -> None:
        # bound 6.0 ms: 1024, 1536 and 2048 MB qualify; 1024 MB is the cheapest of them
        chosen = recommend(self.SIZES, 0.5)
        assert (chosen.memory_mb, chosen.p95_bound_ms) == (1024, pytest.approx(6.0))
        assert "1024, 1536, 2048 MB" in chosen.reason

    def test_a_tight_bound_keeps_only_the_fastest(self) -> None:
        # bound 4.4 ms (10%): 1536 MB (4.4 ms) and 2048 MB qualify; 1536 MB is cheaper
        assert recommend(self.SIZES, 0.1).memory_mb == 1536
        assert recommend(self.SIZES, 0.0).memory_mb == 2048

    def test_both_bounds_must_hold_for_a_stage_that_bounds_batches(self) -> None:
        sizes = [
            Candidate(512, p95_ms=4.5, cost=3.72, batch_p95_ms=200.0),
            Candidate(1024, p95_ms=4.2, cost=3.76, batch_p95_ms=110.0),
            Candidate(2048, p95_ms=4.0, cost=3.83, batch_p95_ms=100.0),
        ]
        # single bound 5.0 ms keeps all three; batch bound 125 ms drops 512 MB; 1024 MB is cheaper than 2048 MB
        chosen = recommend(sizes, 0.25, batch_p95_within=0.25)
        assert chosen.memory_mb == 1024
        assert "p95 batch latency within 25% of the best (100.0 ms, bound 125.0 ms)" in chosen.reason

    def test_when_no_size_meets_both_bounds_the_batch_decides_among_the_fast_ones(self) -> None:
        sizes = [
            Candidate(1024, p95_ms=4.0, cost=3.76, batch_p95_ms=150.0),
            Candidate(1536, p95_ms=4.8, cost=3.79, batch_p95_ms=120.0),
            Candidate(2048, p95_ms=6.0, cost=3.83, batch_p95_ms=60.0),
        ]
        # single bound 5.0 ms: 1024 and 1536 MB; batch bound 75 ms: 2048 MB only; no overlap -> 1536 MB
        chosen = recommend(sizes, 0.25, batch_p95_within=0.25)
        assert chosen.memory_mb == 1536
        assert chosen.reason.startswith("no size has")

    def test_equal_costs_go_to_the_smaller_size(self) -> None:
        tied = [Candidate(1024, 5.0, 3.75), Candidate(768, 5.0, 3.75)]
        assert recommend(tied, 0.1).memory_mb == 768

    def test_nothing_to_choose_from_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="no memory size answered"):
            recommend([], 0.1)


class TestPriceFile:
    def test_the_repository_price_file_is_dated_and_names_its_source(self) -> None:
        path = ROOT / "conf" / "bench" / "lambda_prices.yaml"
        prices = load_prices(path)
        assert prices.taken
        assert prices.region == "us-east-1"
        assert set(prices.gb_second) == {"x86_64", "arm64"}
        assert prices.gb_second["arm64"] < prices.gb_second["x86_64"]
        text = path.read_text()
        assert "https://aws.amazon.com/lambda/pricing/" in text
        assert "https://aws.amazon.com/api-gateway/pricing/" in text

    def test_a_missing_price_names_its_key(self, tmp_path: Path) -> None:
        path = tmp_path / "prices.yaml"
        path.write_text(
            "taken: 2026-12-04\nregion: us-east-1\nlambda:\n  request_per_million: 0.2\n"
            "  billing_granularity_ms: 1\n  gb_second:\n    x86_64: 0.0000166667\n"
            "api_gateway_rest:\n  request_per_million: 3.5\n"
        )
        with pytest.raises(PriceFileError, match="'arm64' must be a positive number"):
            load_prices(path)

    def test_an_undated_file_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "prices.yaml"
        path.write_text((ROOT / "conf" / "bench" / "lambda_prices.yaml").read_text().replace("taken:", "old:"))
        with pytest.raises(PriceFileError, match="'taken' is missing"):
            load_prices(path)
