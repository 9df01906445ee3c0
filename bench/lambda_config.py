"""What `make bench-lambda` runs: conf/bench/lambda.yaml read and checked, the CPU share of each memory size, and
the order of the runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "conf" / "bench" / "lambda.yaml"
T = TypeVar("T")
LAMBDA_MEMORY_MB = (128, 10_240)
"""The memory sizes Lambda accepts (MB)."""


class ConfigError(ValueError):
    """The benchmark's configuration is wrong; the message names the key."""


@dataclass(frozen=True)
class StageRule:
    """How much slower than the best size a stage accepts, as fractions of the best p95 (batch: optional)."""

    p95_within: float
    batch_p95_within: float | None = None


@dataclass(frozen=True)
class BenchConfig:
    """conf/bench/lambda.yaml, with command-line overrides applied."""

    memory_sizes_mb: tuple[int, ...]
    mb_per_vcpu: int
    rounds: int
    cold_starts: int
    warmup: int
    single_requests: int
    batch_requests: int
    batch_size: int
    pause_ms: float
    saturated_requests: int
    cpu_priority: bool
    threads_memory_mb: int | None
    threads_forced: int
    recommend: Mapping[str, StageRule]
    prices: Path
    before_image: str | None = None
    """An image of an earlier commit, run at threads_memory_mb beside the others (--before-image)."""

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> BenchConfig:
        """The config from parsed YAML; ConfigError names a missing or wrong key."""
        try:
            threads = raw.get("threads") or {}
            config = cls(
                memory_sizes_mb=tuple(int(m) for m in raw["memory_sizes_mb"]),
                mb_per_vcpu=int(raw["mb_per_vcpu"]),
                rounds=int(raw["rounds"]),
                cold_starts=int(raw["cold_starts"]),
                warmup=int(raw["warmup"]),
                single_requests=int(raw["single_requests"]),
                batch_requests=int(raw["batch_requests"]),
                batch_size=int(raw["batch_size"]),
                pause_ms=float(raw["pause_ms"]),
                saturated_requests=int(raw["saturated_requests"]),
                cpu_priority=bool(raw["cpu_priority"]),
                threads_memory_mb=int(threads["memory_mb"]) if threads.get("memory_mb") else None,
                threads_forced=int(threads.get("forced", 2)),
                recommend={stage: _rule(stage, rule) for stage, rule in dict(raw["recommend"]).items()},
                prices=ROOT / str(raw["prices"]),
            )
        except KeyError as err:
            raise ConfigError(f"missing key {err} (see conf/bench/lambda.yaml)") from None
        except (TypeError, ValueError) as err:
            raise ConfigError(f"a value has the wrong type: {err} (see conf/bench/lambda.yaml)") from None
        config.validate()
        return config

    def validate(self) -> None:
        """ConfigError for a size Lambda would refuse or a count that measures nothing."""
        if not self.memory_sizes_mb:
            raise ConfigError("memory_sizes_mb is empty: give at least one size")
        low, high = LAMBDA_MEMORY_MB
        for size in (*self.memory_sizes_mb, *([self.threads_memory_mb] if self.threads_memory_mb else [])):
            if not low <= size <= high:
                raise ConfigError(f"memory size {size} MB is outside what Lambda accepts ({low}..{high} MB)")
        at_least_one = {
            "rounds": self.rounds,
            "cold_starts": self.cold_starts,
            "single_requests": self.single_requests,
            "batch_requests": self.batch_requests,
            "batch_size": self.batch_size,
            "mb_per_vcpu": self.mb_per_vcpu,
            "threads.forced": self.threads_forced,
        }
        for name, value in at_least_one.items():
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        for name, number in {"warmup": self.warmup, "saturated_requests": self.saturated_requests}.items():
            if number < 0:
                raise ConfigError(f"{name} must be at least 0, got {number}")
        if self.pause_ms < 0:
            raise ConfigError(f"pause_ms must be at least 0, got {self.pause_ms}")
        if not self.recommend:
            raise ConfigError("recommend names no stage: give at least one with its p95_within")


def _rule(stage: str, raw: Mapping[str, Any]) -> StageRule:
    within = float(raw["p95_within"])
    batch = raw.get("batch_p95_within")
    rule = StageRule(within, None if batch is None else float(batch))
    if rule.p95_within < 0 or (rule.batch_p95_within is not None and rule.batch_p95_within < 0):
        raise ConfigError(f"recommend.{stage}: the tolerances must be >= 0, got {dict(raw)}")
    return rule


def load_config(path: Path = CONFIG) -> BenchConfig:
    """The benchmark configuration at `path`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path} must be a YAML mapping")
    return BenchConfig.from_mapping(raw)


@dataclass(frozen=True)
class CpuShare:
    """The CPU a memory size gets on Lambda and what `docker run --cpus` can give it here."""

    vcpu_share: float
    cpus_given: float
    host_cpus: int

    @property
    def beyond_one_vcpu(self) -> bool:
        """Above one vCPU's worth: on Lambda the function's second vCPU carries part of it."""
        return self.vcpu_share > 1.0

    @property
    def capped(self) -> bool:
        """The share exceeds this machine's processors: the quota is cut to what the machine has."""
        return self.vcpu_share > self.host_cpus


def cpu_share(memory_mb: int, mb_per_vcpu: int, host_cpus: int) -> CpuShare:
    """Lambda's CPU share of `memory_mb` (memory / mb_per_vcpu vCPUs), capped at the host's processors."""
    share = memory_mb / mb_per_vcpu
    return CpuShare(round(share, 3), round(min(share, float(host_cpus)), 3), host_cpus)


@dataclass(frozen=True)
class Variant:
    """One configuration measured: a memory size, the container's extra environment, its part of the report."""

    memory_mb: int
    environment: Mapping[str, str] = field(default_factory=dict)
    role: str = "sweep"
    image: str | None = None
    """Another image than the one measured (an earlier commit's), None for the benchmark's image."""

    @property
    def label(self) -> str:
        if self.image:
            return f"before: image {self.image}"
        return ", ".join(f"{k}={v}" for k, v in self.environment.items()) or "default (threads from the quota)"


def plan(config: BenchConfig) -> list[Variant]:
    """Every variant in the order of the first round (later rounds alternate it), the forced-threads variant right
    after its size so that both see the same machine."""
    size = config.threads_memory_mb
    forced = Variant(size or 0, {"ORT_THREADS": str(config.threads_forced)}, "threads")
    runs: list[Variant] = []
    for memory in config.memory_sizes_mb:
        runs.append(Variant(memory))
        if memory == size:
            runs.append(forced)
    if size and size not in config.memory_sizes_mb:
        runs += [Variant(size, role="threads"), forced]
    if size and config.before_image:
        runs.insert(runs.index(forced) + 1, Variant(size, role="threads", image=config.before_image))
    return runs


def round_order(items: list[T], round_index: int) -> list[T]:
    """Round 0 runs the plan forwards, round 1 backwards, and so on: drift in the machine's load averages out."""
    return items if round_index % 2 == 0 else items[::-1]
