"""Drift signals on hand-made numbers and synthetic windows: PSI, label shares, levels to statuses, too little data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from chalice_app.chalicelib.api.predictor import Prediction
from chalice_app.chalicelib.contract.manifest import load_manifest
from monitoring.drift.config import Levels, MonitoringConfig, load_config
from monitoring.drift.records import PredictionRecord, parse_record
from monitoring.drift.signals import (
    Assessment,
    Reference,
    ReferenceDataError,
    Status,
    assess,
    histogram,
    label_shares,
    operations,
    overall_status,
    psi,
    status_of,
)
from tests.support.prediction_logs import (
    drifted_predictions,
    flip_labels,
    log_lines,
    reference_predictions,
    write_reference_bundle,
)

EPSILON = 1e-4
NAMES = ("unacceptable", "acceptable")


class TestPsi:
    def test_identical_distributions_score_zero(self) -> None:
        assert psi([10, 20, 30, 40], [10, 20, 30, 40], EPSILON) == 0.0

    def test_only_shares_matter_not_sample_sizes(self) -> None:
        assert psi([10, 20, 30, 40], [100, 200, 300, 400], EPSILON) == pytest.approx(0.0, abs=1e-12)

    def test_known_value_computed_by_hand(self) -> None:
        # reference 50/50, recent 25/75: (0.25-0.5)*ln(0.25/0.5) + (0.75-0.5)*ln(0.75/0.5) = 0.173287 + 0.101366
        assert psi([50, 50], [25, 75], EPSILON) == pytest.approx(0.274653, abs=1e-6)

    def test_another_known_value(self) -> None:
        # reference 0.2/0.3/0.5, recent 0.3/0.3/0.4: 0.1*ln(1.5) + 0 + (-0.1)*ln(0.8) = 0.040547 + 0.022314
        assert psi([2, 3, 5], [3, 3, 4], EPSILON) == pytest.approx(0.062861, abs=1e-6)

    def test_is_symmetric(self) -> None:
        assert psi([5, 1, 4], [2, 6, 2], EPSILON) == pytest.approx(psi([2, 6, 2], [5, 1, 4], EPSILON))

    def test_disjoint_distributions_score_large_and_finite(self) -> None:
        value = psi([10, 0], [0, 10], EPSILON)
        # shares smoothed to (1, eps)/(1 + eps) and (eps, 1)/(1 + eps): 2 * (1 - eps)/(1 + eps) * ln(1/eps)
        assert value == pytest.approx(2 * (1 - EPSILON) / (1 + EPSILON) * math.log(1 / EPSILON), rel=1e-9)
        assert 18 < value < 19

    def test_empty_reference_bin_is_smoothed_by_epsilon(self) -> None:
        """1% of recent records in a bin the reference never saw adds about 0.01 * ln(0.01 / eps) = 0.046."""
        value = psi([0, 100, 100], [2, 99, 99], EPSILON)
        assert value == pytest.approx(0.01 * math.log(0.01 / EPSILON), rel=0.05)

    def test_different_bins_are_an_error(self) -> None:
        with pytest.raises(ValueError, match="same bins"):
            psi([1, 2], [1, 2, 3], EPSILON)

    def test_a_side_without_counts_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="at least one count"):
            psi([1, 2], [0, 0], EPSILON)


class TestHistogram:
    def test_bins_are_half_open_and_the_last_is_closed(self) -> None:
        edges = [0.0, 0.5, 1.0]
        assert histogram([0.0, 0.49, 0.5, 1.0], edges).counts == [2, 2]

    def test_values_beyond_the_edges_count_in_the_outer_bins(self) -> None:
        assert histogram([-3, 2, 100, 63], [0, 4, 63]).counts == [2, 2]

    def test_shares(self) -> None:
        assert histogram([1, 1, 5], [0, 4, 8]).shares() == pytest.approx([2 / 3, 1 / 3])


class TestLabelShares:
    def test_share_of_each_label(self) -> None:
        assert label_shares(["acceptable", "acceptable", "unacceptable", "acceptable"], NAMES) == {
            "unacceptable": 0.25,
            "acceptable": 0.75,
        }

    def test_no_labels_no_shares(self) -> None:
        assert label_shares([], NAMES) == {"unacceptable": 0.0, "acceptable": 0.0}


class TestStatus:
    LEVELS = Levels(warn=0.1, alert=0.25)

    @pytest.mark.parametrize(
        ("value", "status"),
        [(0.0, Status.OK), (0.0999, Status.OK), (0.1, Status.WARN), (0.2499, Status.WARN), (0.25, Status.ALERT)],
    )
    def test_levels_are_inclusive_lower_bounds(self, value: float, status: Status) -> None:
        assert status_of(value, self.LEVELS) is status

    def test_no_value_is_unavailable(self) -> None:
        assert status_of(None, self.LEVELS) is Status.UNAVAILABLE

    def test_overall_is_the_worst_signal_and_unavailable_counts_as_ok(
        self, bundle: Bundle, config: MonitoringConfig
    ) -> None:
        ok = bundle.assess(reference_predictions(), config).signals
        warn, alert, unavailable = (replace(ok[0], status=s) for s in (Status.WARN, Status.ALERT, Status.UNAVAILABLE))
        assert overall_status([*ok, unavailable], 500, 200) is Status.OK
        assert overall_status([*ok, warn], 500, 200) is Status.WARN
        assert overall_status([*ok, warn, alert], 500, 200) is Status.ALERT
        assert overall_status([*ok, alert], 199, 200) is Status.INSUFFICIENT_DATA


def to_records(
    predictions: Sequence[Prediction], model_version: str = "m-test", latency_ms: float = 2.0
) -> list[PredictionRecord]:
    """The records the report would read back from the log lines of `predictions`."""
    return [parse_record(line) for line in log_lines(predictions, model_version, latency_ms=latency_ms)]


@dataclass(frozen=True)
class Bundle:
    reference: Reference
    version: str

    def assess(self, predictions: Sequence[Prediction], config: MonitoringConfig) -> Assessment:
        return assess(to_records(predictions, self.version), self.reference, self.version, config)


def reference_bundle(directory: Path, with_length_histogram: bool = True) -> Bundle:
    version = write_reference_bundle(directory, reference_predictions(), with_length_histogram)
    return Bundle(Reference.from_manifest(load_manifest(directory)), version)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A bundle directory whose manifest holds the reference of `reference_predictions()`."""
    return reference_bundle(tmp_path_factory.mktemp("reference") / "bundle")


@pytest.fixture
def config() -> MonitoringConfig:
    return load_config()


class TestAssess:
    def test_the_reference_population_itself_is_ok_with_zero_drift(
        self, bundle: Bundle, config: MonitoringConfig
    ) -> None:
        result = bundle.assess(reference_predictions(), config)
        assert result.status is Status.OK
        values = {s.name: s.value for s in result.signals}
        for name in ("score_psi", "length_psi", "unknown_token_rate_increase", "truncation_rate_increase"):
            assert values[name] == pytest.approx(0.0, abs=1e-9), name
        assert values["label_share_diff"] < 1e-3  # the manifest rounds shares to 4 decimals
        assert values["other_model_share"] == 0.0
        assert all(s.status is Status.OK for s in result.signals)

    def test_a_drifted_window_alerts_on_every_distribution_signal(
        self, bundle: Bundle, config: MonitoringConfig
    ) -> None:
        result = bundle.assess(drifted_predictions(), config)
        assert result.status is Status.ALERT
        statuses = {s.name: s.status for s in result.signals}
        for name in ("score_psi", "length_psi", "unknown_token_rate_increase", "truncation_rate_increase"):
            assert statuses[name] is Status.ALERT, name
        assert statuses["latency_p95_ms"] is Status.OK

    def test_a_moderate_label_shift_warns(self, bundle: Bundle, config: MonitoringConfig) -> None:
        result = bundle.assess(flip_labels(reference_predictions(), 0.07), config)
        signals = {s.name: s for s in result.signals}
        assert signals["label_share_diff"].value == pytest.approx(0.07, abs=0.002)
        assert signals["label_share_diff"].status is Status.WARN
        assert result.status is Status.WARN

    def test_too_few_records_is_insufficient_data_not_an_alarm(self, bundle: Bundle, config: MonitoringConfig) -> None:
        result = bundle.assess(drifted_predictions(n=config.min_records - 1), config)
        assert result.status is Status.INSUFFICIENT_DATA
        assert {s.status for s in result.signals} == {Status.INSUFFICIENT_DATA}
        psi_signal = next(s for s in result.signals if s.name == "score_psi")
        assert psi_signal.value is not None
        assert psi_signal.value > 0.25  # computed and shown, but not judged
        assert "fewer than min_records 200" in psi_signal.detail

    def test_no_records_at_all(self, bundle: Bundle, config: MonitoringConfig) -> None:
        result = bundle.assess([], config)
        assert result.status is Status.INSUFFICIENT_DATA
        assert all(s.value is None and s.status is Status.INSUFFICIENT_DATA for s in result.signals)
        assert result.operations.count == 0
        assert result.operations.latency_p95_ms is None

    def test_predictions_of_another_model_are_flagged(self, bundle: Bundle, config: MonitoringConfig) -> None:
        population, version = reference_predictions(), bundle.version
        records = to_records(population[:300], version) + to_records(population[300:], "m-old")
        result = assess(records, bundle.reference, version, config)
        signal = next(s for s in result.signals if s.name == "other_model_share")
        assert signal.value == pytest.approx(0.5)
        assert signal.status is Status.ALERT
        assert result.operations.model_versions == {version: 300, "m-old": 300}

    def test_slow_requests_alert_on_latency(self, bundle: Bundle, config: MonitoringConfig) -> None:
        records = to_records(reference_predictions(), bundle.version, latency_ms=1500.0)
        result = assess(records, bundle.reference, bundle.version, config)
        signal = next(s for s in result.signals if s.name == "latency_p95_ms")
        assert (signal.value, signal.status) == (1500.0, Status.ALERT)

    def test_without_a_length_histogram_the_length_signal_is_unavailable(
        self, config: MonitoringConfig, tmp_path: Path
    ) -> None:
        result = reference_bundle(tmp_path, with_length_histogram=False).assess(reference_predictions(), config)
        signal = next(s for s in result.signals if s.name == "length_psi")
        assert signal.status is Status.UNAVAILABLE
        assert "re-export" in signal.detail
        assert result.status is Status.OK
        assert sum(result.distributions.length_recent.counts) == len(reference_predictions())

    def test_levels_come_from_the_config(self, bundle: Bundle, config: MonitoringConfig) -> None:
        strict = replace(config, signals={**config.signals, "label_share_diff": Levels(0.01, 0.05)})
        result = bundle.assess(flip_labels(reference_predictions(), 0.07), strict)
        assert next(s for s in result.signals if s.name == "label_share_diff").status is Status.ALERT


class TestReference:
    def test_a_manifest_without_reference_is_refused(self) -> None:
        with pytest.raises(ReferenceDataError, match=r"no reference section.*make export"):
            Reference.from_manifest({"model_version": "m-x"})

    def test_an_incomplete_reference_is_refused(self) -> None:
        with pytest.raises(ReferenceDataError, match=r"incomplete.*score_histogram"):
            Reference.from_manifest({"reference": {"split": "validation", "n": 3}})


def test_operations_percentiles_are_computed_client_side() -> None:
    records = to_records(reference_predictions(n=100))
    records = [replace(r, latency_ms=float(i + 1)) for i, r in enumerate(records)]  # 1 .. 100 ms
    ops = operations(records)
    assert (ops.count, ops.latency_p50_ms, ops.latency_p95_ms) == (100, 50.5, 95.05)  # numpy's linear interpolation
    assert ops.first is not None
    assert ops.last is not None
    assert ops.first < ops.last
