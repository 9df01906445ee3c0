"""The CPU this process may really use: its cgroup's CPU quota, then its CPU affinity.

Lambda gives a function CPU in proportion to its memory and Docker's `--cpus` sets a CFS quota: in both, the
processor count a process sees can exceed the CPU time it gets. ONNX Runtime's intra-op threads are sized from the
smaller of the two, and its spinning threads (which burn quota while they wait) are turned off under a quota.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
MAX_AUTO_THREADS = 2
"""Most threads chosen automatically: one sentence gains little beyond two (ORT_THREADS sets more)."""


@dataclass(frozen=True)
class CpuBudget:
    """How much CPU the process may use: `quota` CPUs of time (None: unlimited) on `affinity` processors."""

    quota: float | None
    affinity: int

    @property
    def cpus(self) -> float:
        return self.affinity if self.quota is None else min(self.quota, float(self.affinity))

    @property
    def limited(self) -> bool:
        """A quota below the processors the process may run on: idle spinning would spend it."""
        return self.quota is not None and self.quota < self.affinity

    def threads(self) -> int:
        """Intra-op threads for this budget: whole CPUs, at least one, at most MAX_AUTO_THREADS."""
        return max(1, min(MAX_AUTO_THREADS, math.floor(self.cpus)))


def cpu_budget(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> CpuBudget:
    """The quota of the process's cgroup (v2 cpu.max or v1 cpu.cfs_quota_us) and its affinity."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        affinity = os.cpu_count() or 1
    return CpuBudget(cgroup_quota(cgroup_root, proc_cgroup), affinity)


def cgroup_quota(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """CPUs of time per period the cgroup allows, or None when unlimited or unreadable."""
    v2_path, v1_path = _own_cgroups(proc_cgroup)
    for directory in dict.fromkeys([cgroup_root / v2_path.lstrip("/"), cgroup_root]):
        quota = _read_v2(directory / "cpu.max")
        if quota is not None:
            return quota
    for directory in dict.fromkeys([cgroup_root / "cpu" / v1_path.lstrip("/"), cgroup_root / "cpu"]):
        quota = _read_v1(directory / "cpu.cfs_quota_us", directory / "cpu.cfs_period_us")
        if quota is not None:
            return quota
    return None


def _own_cgroups(proc_cgroup: Path) -> tuple[str, str]:
    """The process's cgroup v2 path and its v1 cpu-controller path ("/" when unknown)."""
    v2, v1 = "/", "/"
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return v2, v1
    for line in lines:
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        if controllers == "":
            v2 = path or "/"
        elif "cpu" in controllers.split(","):
            v1 = path or "/"
    return v2, v1


def _read_v2(path: Path) -> float | None:
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return _ratio(quota, period)


def _read_v1(quota_path: Path, period_path: Path) -> float | None:
    try:
        quota, period = quota_path.read_text().strip(), period_path.read_text().strip()
    except OSError:
        return None
    return _ratio(quota, period)


def _ratio(quota: str, period: str) -> float | None:
    try:
        value, length = int(quota), int(period)
    except ValueError:
        return None
    return value / length if value > 0 and length > 0 else None
