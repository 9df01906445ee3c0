"""The containers' CPU-weighted cgroup: made with its weight, handed to Docker as a parent, removed afterwards, and
nothing done where cgroup v1's cpu controller is missing (a fake controller tree stands in for /sys/fs/cgroup)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.cpu_priority import priority_cgroup


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.cpu_priority.os.geteuid", lambda: 0)


def cgroup_tree(tmp_path: Path) -> Path:
    for controller in ("cpu", "memory", "cpuset"):
        (tmp_path / controller).mkdir()
    (tmp_path / "cpu" / "cpu.shares").write_text("1024\n")
    return tmp_path


def test_the_group_gets_its_weight_and_is_removed_with_what_runc_added(tmp_path: Path, as_root: None) -> None:
    root = cgroup_tree(tmp_path)
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    with priority_cgroup(root, "bench-test", shares=4096) as parent:
        assert parent == "/bench-test"
        assert (root / "cpu" / "bench-test" / "cpu.shares").read_text() == "4096"
        (root / "cpu" / "bench-test" / "cpu.shares").unlink()  # cgroupfs's control files go with rmdir; a plain one
        (root / "memory" / "bench-test").mkdir()  # what runc creates in the other controllers
    assert not (root / "cpu" / "bench-test").exists()
    assert not (root / "memory" / "bench-test").exists()
    assert os.getpriority(os.PRIO_PROCESS, 0) == niceness


def test_without_a_cgroup_v1_cpu_controller_nothing_is_changed(tmp_path: Path, as_root: None) -> None:
    (tmp_path / "unified").mkdir()
    with priority_cgroup(tmp_path, "bench-test") as parent:
        assert parent is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unified"]


def test_not_as_root_nothing_is_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.cpu_priority.os.geteuid", lambda: 1000)
    root = cgroup_tree(tmp_path)
    with priority_cgroup(root, "bench-test") as parent:
        assert parent is None
    assert not (root / "cpu" / "bench-test").exists()
