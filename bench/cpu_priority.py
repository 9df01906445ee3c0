"""A CPU-weighted cgroup for the benchmark's containers, so that each gets its quota on a machine busy with other work.

Lambda's CPU share is a quota on a vCPU the function does not share with other tenants' work. On a shared machine
a container with `--cpus=0.58` competes with every other runnable process for that 0.58 CPU: under cgroup v1 the
Docker parent cgroup weighs as much as one ordinary process, so with five busy processes elsewhere the container
gets far less than its quota, and every size above that looks the same. Putting the containers under their own
cgroup with a high `cpu.shares` (a weight, not a reservation: unused, it costs nobody anything) lets each one use
its quota whenever it is runnable; the quota (`--cpus`) still caps it. The benchmark's own threads, which hand
the events over and time them, get a lower niceness for the same reason. Needs root and a writable cgroup v1 `cpu`
controller (this machine's); elsewhere nothing is changed and the report says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
NAME = "cola-bench-lambda"
SHARES = 16 * 1024
"""Sixteen ordinary processes' weight: the containers' quota, not the machine's other work, limits them."""
DRIVER_NICE = -10
"""The benchmark's own threads (the Runtime API server, the timer) run at this niceness meanwhile: on Linux a
thread's niceness is inherited by the threads it starts, so every Runtime API started inside gets it too."""


@contextmanager
def priority_cgroup(root: Path = CGROUP_ROOT, name: str = NAME, shares: int = SHARES) -> Iterator[str | None]:
    """The cgroup parent to give `docker run --cgroup-parent` ('/NAME', weighted `shares`), or None where cgroup
    v1's cpu controller cannot be written. Removed on exit, with what runc created under it in other controllers."""
    cpu = root / "cpu"
    if os.geteuid() != 0 or not (cpu / "cpu.shares").is_file():
        yield None
        return
    group = cpu / name
    try:
        group.mkdir(exist_ok=True)
        (group / "cpu.shares").write_text(str(shares))
    except OSError:
        yield None
        return
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    with suppress(OSError):  # not allowed to lower it: the containers' weight still applies
        os.setpriority(os.PRIO_PROCESS, 0, niceness + DRIVER_NICE)
    try:
        yield f"/{name}"
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
        for controller in root.iterdir():
            leftover = controller / name
            if leftover.is_dir():
                with suppress(OSError):  # a container still in it: left for the next run to reuse
                    leftover.rmdir()
