"""Settings of the drift and quality report: conf/monitoring/default.yaml, optionally overlaid by a user's file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "conf" / "monitoring" / "default.yaml"

SIGNALS = (
    "score_psi",
    "label_share_diff",
    "length_psi",
    "unknown_token_rate_increase",
    "truncation_rate_increase",
    "other_model_share",
    "latency_p95_ms",
)
"""Every signal the report computes, in the order it shows them (conf/monitoring/default.yaml documents each)."""

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class ConfigError(ValueError):
    """The monitoring settings are missing a key or hold a value the report cannot use."""


@dataclass(frozen=True)
class Levels:
    """A signal is ALERT at value >= alert, else WARN at value >= warn, else OK."""

    warn: float
    alert: float


@dataclass(frozen=True)
class ElasticsearchSettings:
    index: str
    window: str
    page_size: int
    max_records: int
    timeout_s: float


@dataclass(frozen=True)
class MonitoringConfig:
    min_records: int
    psi_epsilon: float
    signals: dict[str, Levels]
    elasticsearch: ElasticsearchSettings


def parse_duration(text: str) -> timedelta:
    """'90s', '30m', '24h', '7d' as a timedelta."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"window {text!r} is not a positive duration like 30m, 24h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def load_config(overlay: Path | None = None, base: Path = DEFAULT_CONFIG) -> MonitoringConfig:
    """The defaults from `base`, with the keys of `overlay` (if given) replacing theirs; validated."""
    try:
        merged = OmegaConf.load(base)
        OmegaConf.set_struct(merged, True)  # an overlay key the defaults do not have is a typo: refuse it
        if overlay is not None:
            if not overlay.is_file():
                raise ConfigError(f"monitoring config {overlay} does not exist")
            merged = OmegaConf.merge(merged, OmegaConf.load(overlay))
        raw = OmegaConf.to_container(merged, resolve=True)
    except OmegaConfBaseException as err:
        reason = str(err).splitlines()[0]
        raise ConfigError(f"monitoring config {overlay or base}: {reason} (the keys are those of {base})") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"monitoring config {base} is not a mapping")
    return parse_config(raw)


def parse_config(raw: dict[Any, Any]) -> MonitoringConfig:
    """Check every value and build the settings; errors name the key and what is wrong."""
    signals_raw = _get(raw, "signals", dict)
    missing = [name for name in SIGNALS if name not in signals_raw]
    if missing:
        raise ConfigError(f"monitoring config: signals.{missing[0]} is missing (needs warn and alert)")
    signals = {}
    for name in SIGNALS:
        levels = signals_raw[name]
        if not isinstance(levels, dict):
            raise ConfigError(f"monitoring config: signals.{name} must be a mapping with warn and alert")
        warn = _number(levels, "warn", f"signals.{name}")
        alert = _number(levels, "alert", f"signals.{name}")
        if not 0 <= warn <= alert:
            raise ConfigError(f"monitoring config: signals.{name} needs 0 <= warn <= alert, got {warn} and {alert}")
        signals[name] = Levels(warn, alert)
    min_records = _get(raw, "min_records", int)
    if min_records < 1:
        raise ConfigError(f"monitoring config: min_records must be at least 1, got {min_records}")
    epsilon = _number(raw, "psi_epsilon", "")
    if not 0 < epsilon < 0.01:
        raise ConfigError(f"monitoring config: psi_epsilon must be in (0, 0.01), got {epsilon}")
    es = _get(raw, "elasticsearch", dict)
    settings = ElasticsearchSettings(
        index=_get(es, "index", str, "elasticsearch."),
        window=_get(es, "window", str, "elasticsearch."),
        page_size=_get(es, "page_size", int, "elasticsearch."),
        max_records=_get(es, "max_records", int, "elasticsearch."),
        timeout_s=_number(es, "timeout_s", "elasticsearch"),
    )
    parse_duration(settings.window)
    if settings.page_size < 1 or settings.max_records < 1 or settings.timeout_s <= 0:
        raise ConfigError("monitoring config: elasticsearch page_size, max_records and timeout_s must be positive")
    return MonitoringConfig(min_records, epsilon, signals, settings)


def _get(raw: dict[Any, Any], key: str, kind: type, prefix: str = "") -> Any:
    value = raw.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"monitoring config: {prefix}{key} must be a {kind.__name__}, got {value!r}")
    return value


def _number(raw: dict[Any, Any], key: str, where: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        name = f"{where}.{key}" if where else key
        raise ConfigError(f"monitoring config: {name} must be a number, got {value!r}")
    return float(value)
