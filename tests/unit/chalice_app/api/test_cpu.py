"""The CPU budget ONNX Runtime's threads are sized from: the cgroup quota (v2 and v1), then the affinity."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalice_app.chalicelib.api.cpu import CpuBudget, cgroup_quota, cpu_budget
from chalice_app.chalicelib.api.predictor import session_options


def cgroup_v2(root: Path, cpu_max: str, path: str = "/") -> Path:
    """A cgroup v2 tree with the process in `path`; returns its /proc/self/cgroup."""
    directory = root / path.lstrip("/")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cpu.max").write_text(cpu_max + "\n")
    proc = root / "proc-cgroup"
    proc.write_text(f"0::{path}\n")
    return proc


def cgroup_v1(root: Path, quota: int, period: int = 100_000, path: str = "/") -> Path:
    directory = root / "cpu" / path.lstrip("/")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (directory / "cpu.cfs_period_us").write_text(f"{period}\n")
    proc = root / "proc-cgroup"
    proc.write_text(f"4:memory:/x\n1:cpu,cpuacct:{path}\n0::/\n")
    return proc


class TestQuota:
    @pytest.mark.parametrize(
        ("cpu_max", "quota"), [("58000 100000", 0.58), ("200000 100000", 2.0), ("max 100000", None)]
    )
    def test_cgroup_v2_cpu_max(self, tmp_path: Path, cpu_max: str, quota: float | None) -> None:
        proc = cgroup_v2(tmp_path, cpu_max, "/lambda/function")
        assert cgroup_quota(tmp_path, proc) == quota

    def test_cgroup_v1_cfs_quota_of_the_process_cgroup(self, tmp_path: Path) -> None:
        proc = cgroup_v1(tmp_path, 150_000, path="/docker/abc")
        assert cgroup_quota(tmp_path, proc) == 1.5

    def test_cgroup_v1_without_a_quota_is_unlimited(self, tmp_path: Path) -> None:
        assert cgroup_quota(tmp_path, cgroup_v1(tmp_path, -1)) is None

    def test_nothing_readable_is_unlimited(self, tmp_path: Path) -> None:
        assert cgroup_quota(tmp_path / "none", tmp_path / "no-proc-file") is None

    def test_a_namespaced_container_reads_its_own_root(self, tmp_path: Path) -> None:
        """Inside a cgroup namespace /proc/self/cgroup says "/" and the limits sit at the root."""
        assert cgroup_quota(tmp_path, cgroup_v2(tmp_path, "50000 100000")) == 0.5

    def test_the_real_machine_answers_something_sane(self) -> None:
        budget = cpu_budget()
        assert budget.affinity >= 1
        assert budget.quota is None or budget.quota > 0


class TestThreads:
    @pytest.mark.parametrize(
        ("quota", "affinity", "threads", "limited"),
        [
            (None, 2, 2, False),  # two whole cores (this machine, a laptop)
            (None, 8, 2, False),  # more cores: still two for one sentence at a time
            (0.58, 2, 1, True),  # Lambda at 1024 MB
            (1.0, 2, 1, True),  # Lambda at 1769 MB
            (1.16, 2, 1, True),  # Lambda at 2048 MB
            (2.0, 2, 2, False),
            (None, 1, 1, False),
        ],
    )
    def test_whole_cpus_at_least_one(self, quota: float | None, affinity: int, threads: int, limited: bool) -> None:
        budget = CpuBudget(quota, affinity)
        assert budget.threads() == threads
        assert budget.limited is limited

    def test_under_a_quota_onnxruntime_does_not_spin(self) -> None:
        options = session_options(budget=CpuBudget(0.58, 2))
        assert options.intra_op_num_threads == 1
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"

    def test_without_a_quota_the_defaults_stay(self) -> None:
        options = session_options(budget=CpuBudget(None, 2))
        assert options.intra_op_num_threads == 2
        with pytest.raises(RuntimeError, match="does not have configuration"):  # onnxruntime's default: spinning
            options.get_session_config_entry("session.intra_op.allow_spinning")

    def test_an_explicit_thread_count_wins(self) -> None:
        assert session_options(3, budget=CpuBudget(0.58, 2)).intra_op_num_threads == 3
