"""Drift and quality signals: a window of prediction records against the reference in the bundle's manifest.

Pure functions, no I/O. The reference (typed in chalice_app/chalicelib/contract/drift_reference.py, computed at
export) is what the served model predicted on the dev set: label shares, a histogram of the positive class's
probability on fixed bins, input lengths (a summary and a histogram of word pieces), the mean unknown-token rate and
the truncated share. Each signal compares the window with it; conf/monitoring/default.yaml holds the levels and
explains them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from chalice_app.chalicelib.contract.drift_reference import bin_counts
from monitoring.drift.config import Levels, MonitoringConfig
from monitoring.drift.records import PredictionRecord


class ReferenceDataError(ValueError):
    """The manifest has no usable reference distribution."""


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    ALERT = "ALERT"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"  # too few records in the window to judge: never an alarm
    UNAVAILABLE = "UNAVAILABLE"  # the reference lacks what the signal needs


SEVERITY = {Status.OK: 0, Status.UNAVAILABLE: 0, Status.INSUFFICIENT_DATA: 0, Status.WARN: 1, Status.ALERT: 2}


@dataclass(frozen=True)
class Histogram:
    """Counts on bins: bin i is [edges[i], edges[i+1]), the last bin closed and open-ended (see `histogram`)."""

    edges: list[float]
    counts: list[int]

    def shares(self) -> list[float]:
        total = sum(self.counts)
        return [c / total if total else 0.0 for c in self.counts]


@dataclass(frozen=True)
class Reference:
    labels: tuple[str, ...]
    split: str
    n: int
    label_share: dict[str, float]
    score: Histogram
    n_tokens: Histogram | None  # absent in bundles exported before the length histogram existed
    n_tokens_summary: dict[str, float]
    unknown_token_rate_mean: float
    truncated_share: float

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Reference:
        """The manifest's `reference` section, checked; ReferenceDataError says what is missing."""
        section = manifest.get("reference")
        labels = tuple(manifest.get("labels") or ())
        if not isinstance(section, dict):
            raise ReferenceDataError("the bundle's manifest has no reference section: re-export it with `make export`")
        try:
            score = section["score_histogram"]
            length = section.get("n_tokens_histogram")
            return cls(
                labels=labels,
                split=str(section["split"]),
                n=int(section["n"]),
                label_share={name: float(section["label_share"][name]) for name in labels},
                score=Histogram([float(e) for e in score["bin_edges"]], [int(c) for c in score["counts"]]),
                n_tokens=Histogram([float(e) for e in length["bin_edges"]], [int(c) for c in length["counts"]])
                if length
                else None,
                n_tokens_summary={k: float(v) for k, v in section["n_tokens"].items()},
                unknown_token_rate_mean=float(section["unknown_token_rate_mean"]),
                truncated_share=float(section["truncated_share"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ReferenceDataError(
                f"the manifest's reference section is incomplete ({err!r}): re-export the bundle"
            ) from err


@dataclass(frozen=True)
class Signal:
    name: str
    value: float | None
    warn: float
    alert: float
    status: Status
    detail: str


@dataclass(frozen=True)
class Operations:
    count: int
    first: str | None
    last: str | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    model_versions: dict[str, int]


@dataclass(frozen=True)
class Distributions:
    """Reference and recent distributions side by side, for the plots and the JSON summary."""

    score_reference: Histogram
    score_recent: Histogram
    label_share_reference: dict[str, float]
    label_share_recent: dict[str, float]
    length_reference: Histogram | None
    length_recent: Histogram


@dataclass(frozen=True)
class Assessment:
    status: Status
    signals: list[Signal]
    operations: Operations
    distributions: Distributions

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def histogram(values: Sequence[float], edges: Sequence[float]) -> Histogram:
    """Counts of `values` on `edges` with the reference's own rule (contract.drift_reference.bin_counts), so recent
    and reference counts are comparable; values beyond the outer edges count in the first or last bin."""
    return Histogram([float(e) for e in edges], bin_counts(values, edges))


def psi(reference_counts: Sequence[int], recent_counts: Sequence[int], epsilon: float) -> float:
    """Population stability index: sum over bins of (recent - reference) * ln(recent / reference), on shares.

    A share of 0 would make the logarithm infinite: shares below `epsilon` are raised to it and both sides
    renormalised (conf/monitoring/default.yaml explains the size of its effect).
    """
    if len(reference_counts) != len(recent_counts):
        raise ValueError(f"psi needs the same bins on both sides, got {len(reference_counts)} and {len(recent_counts)}")
    expected = _smoothed_shares(reference_counts, epsilon)
    actual = _smoothed_shares(recent_counts, epsilon)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _smoothed_shares(counts: Sequence[int], epsilon: float) -> np.ndarray:
    total = float(sum(counts))
    if total <= 0:
        raise ValueError("psi needs at least one count on each side")
    shares = np.maximum(np.asarray(counts, dtype=float) / total, epsilon)
    return np.asarray(shares / shares.sum())


def label_shares(labels: Sequence[str], names: Sequence[str]) -> dict[str, float]:
    """Share of each label name (`names`' order); all zero when there are no labels."""
    counts = Counter(labels)
    return {name: counts[name] / len(labels) if labels else 0.0 for name in names}


def status_of(value: float | None, levels: Levels) -> Status:
    """ALERT at value >= alert, WARN at value >= warn, else OK; no value means the signal cannot be judged."""
    if value is None:
        return Status.UNAVAILABLE
    if value >= levels.alert:
        return Status.ALERT
    if value >= levels.warn:
        return Status.WARN
    return Status.OK


def overall_status(signals: Sequence[Signal], count: int, min_records: int) -> Status:
    """INSUFFICIENT_DATA below min_records, else the most severe signal (UNAVAILABLE ones count as OK)."""
    if count < min_records:
        return Status.INSUFFICIENT_DATA
    worst = max((SEVERITY[s.status] for s in signals), default=0)
    return {0: Status.OK, 1: Status.WARN, 2: Status.ALERT}[worst]


def operations(records: Sequence[PredictionRecord]) -> Operations:
    """Count, time span, latency percentiles (computed here: noida-db has no percentiles aggregation, and a
    client-side figure is the same whatever the store) and the model versions seen, most frequent first."""
    latencies = np.array([r.latency_ms for r in records], dtype=float)
    times = sorted(r.timestamp for r in records)
    versions = Counter(r.model_version for r in records)
    return Operations(
        count=len(records),
        first=times[0].isoformat() if times else None,
        last=times[-1].isoformat() if times else None,
        latency_p50_ms=round(float(np.percentile(latencies, 50)), 3) if len(latencies) else None,
        latency_p95_ms=round(float(np.percentile(latencies, 95)), 3) if len(latencies) else None,
        model_versions=dict(versions.most_common()),
    )


def assess(
    records: Sequence[PredictionRecord], reference: Reference, model_version: str, config: MonitoringConfig
) -> Assessment:
    """Every signal of the window against the reference, each with its status, and the overall status."""
    n = len(records)
    ops = operations(records)
    score_recent = histogram([r.p_acceptable for r in records], reference.score.edges)
    shares = label_shares([r.label for r in records], reference.labels)
    lengths = [r.n_tokens for r in records]
    if reference.n_tokens is not None:
        length_recent = histogram(lengths, reference.n_tokens.edges)
    else:
        top = max(lengths, default=0) + 1  # whole word pieces: integer edges, at most 10 bins
        length_recent = histogram(lengths, sorted({round(e) for e in np.linspace(0, top, 11)}))

    values: dict[str, tuple[float | None, str]] = {}
    if n:
        score = psi(reference.score.counts, score_recent.counts, config.psi_epsilon)
        values["score_psi"] = (score, f"P(acceptable) on {len(score_recent.counts)} reference bins")
        diffs = {name: shares[name] - reference.label_share[name] for name in reference.labels}
        name = max(diffs, key=lambda k: abs(diffs[k]))
        values["label_share_diff"] = (
            abs(diffs[name]),
            f"{name}: recent {shares[name]:.3f} vs reference {reference.label_share[name]:.3f}",
        )
        if reference.n_tokens is not None:
            length = psi(reference.n_tokens.counts, length_recent.counts, config.psi_epsilon)
            values["length_psi"] = (
                length,
                f"word pieces; recent median {np.median(lengths):.0f} vs reference "
                f"{reference.n_tokens_summary.get('p50', float('nan')):.0f}",
            )
        unknown = float(np.mean([r.unknown_token_rate for r in records]))
        values["unknown_token_rate_increase"] = (
            unknown - reference.unknown_token_rate_mean,
            f"recent mean {unknown:.4f} vs reference {reference.unknown_token_rate_mean:.4f}",
        )
        truncated = float(np.mean([r.truncated for r in records]))
        values["truncation_rate_increase"] = (
            truncated - reference.truncated_share,
            f"recent {truncated:.4f} vs reference {reference.truncated_share:.4f}",
        )
        other = sum(count for version, count in ops.model_versions.items() if version != model_version)
        values["other_model_share"] = (other / n, f"{other} of {n} predictions not by {model_version}")
        values["latency_p95_ms"] = (ops.latency_p95_ms, f"p50 {ops.latency_p50_ms} ms")

    signals = []
    for name, levels in config.signals.items():
        value, detail = values.get(name, (None, "no records in the window"))
        if name == "length_psi" and reference.n_tokens is None:
            value, status = None, Status.UNAVAILABLE
            detail = "the bundle's reference has no n_tokens_histogram (exported before it existed): re-export it"
        elif n < config.min_records:
            status = Status.INSUFFICIENT_DATA
            detail = f"{n} records, fewer than min_records {config.min_records}" + (f"; {detail}" if n else "")
        else:
            status = status_of(value, levels)
        rounded = None if value is None else round(float(value), 6)
        signals.append(Signal(name, rounded, levels.warn, levels.alert, status, detail))

    return Assessment(
        status=overall_status(signals, n, config.min_records),
        signals=signals,
        operations=ops,
        distributions=Distributions(
            score_reference=reference.score,
            score_recent=score_recent,
            label_share_reference=dict(reference.label_share),
            label_share_recent=shares,
            length_reference=reference.n_tokens,
            length_recent=length_recent,
        ),
    )
