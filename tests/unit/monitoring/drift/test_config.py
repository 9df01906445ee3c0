"""conf/monitoring/default.yaml: the documented levels load; a user's file overrides keys; bad values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring.drift.config import DEFAULT_CONFIG, SIGNALS, ConfigError, Levels, load_config, parse_duration


def test_defaults_are_the_usual_levels() -> None:
    config = load_config()
    assert config.min_records == 200
    assert config.psi_epsilon == 1e-4
    assert list(config.signals) == list(SIGNALS)
    assert config.signals["score_psi"] == Levels(0.1, 0.25)  # the common PSI reading
    assert config.signals["length_psi"] == Levels(0.1, 0.25)
    assert config.signals["label_share_diff"] == Levels(0.05, 0.1)
    assert config.elasticsearch.index == "predictions-*"
    assert config.elasticsearch.window == "24h"


def test_every_signal_is_documented_in_the_defaults_file() -> None:
    text = DEFAULT_CONFIG.read_text()
    for name in SIGNALS:
        comment = text.split(f"  {name}:")[0].rstrip().splitlines()[-1]
        assert comment.lstrip().startswith("#"), f"{name} has no comment above it"


def test_an_overlay_changes_only_its_keys(tmp_path: Path) -> None:
    overlay = tmp_path / "mine.yaml"
    overlay.write_text("min_records: 50\nsignals:\n  score_psi: {alert: 0.5}\n")
    config = load_config(overlay)
    assert config.min_records == 50
    assert config.signals["score_psi"] == Levels(0.1, 0.5)
    assert config.signals["length_psi"] == Levels(0.1, 0.25)


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ("min_record: 50\n", "min_record"),  # a typo is not silently ignored
        ("min_records: 0\n", "min_records must be at least 1"),
        ("signals:\n  score_psi: {warn: 0.3, alert: 0.2}\n", "signals.score_psi needs 0 <= warn <= alert"),
        ("signals:\n  score_psi: {warn: high}\n", "signals.score_psi.warn must be a number"),
        ("psi_epsilon: 0.5\n", r"psi_epsilon must be in \(0, 0.01\)"),
        ("elasticsearch:\n  window: yesterday\n", "window 'yesterday' is not a positive duration"),
        ("elasticsearch:\n  page_size: 0\n", "must be positive"),
    ],
)
def test_bad_values_are_refused_with_the_key(tmp_path: Path, overlay: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(overlay)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_missing_overlay_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["0h", "24", "1w", "-1h", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError, match="not a positive duration"):
        parse_duration(text)
