"""What a run was computed on: CPU, the instruction sets the numeric libraries use, threads, library versions.

Fine-tuning amplifies last-bit differences between float kernels, and torch, oneDNN and onnxruntime pick their
kernels per CPU. Results are bit-identical only between runs with the same `fingerprint`; metrics.json, the bundle
manifest and every results file in bench/results record this description so figures are read with their machine.

Only the standard library is imported at module level: torch and onnxruntime are described when the caller has
them (the serving benchmarks of the runtime world never import torch).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

CPU_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "sve",
)
"""The CPU features that decide which float and int8 kernels torch/oneDNN and onnxruntime's MLAS dispatch to."""

BF16_MATRIX_FLAG = "amx_bf16"
"""The flag of hardware bf16 matrix multiplication (Intel AMX): where bf16 autocast pays on a CPU; without it torch
emulates bf16 and gains nothing (bench/results/bf16_training.md)."""


def has_bf16_matrix_units(flags: Sequence[str] | None = None) -> bool:
    """Whether the CPU multiplies bf16 in hardware (its flags; default: this machine's /proc/cpuinfo)."""
    return BF16_MATRIX_FLAG in (cpu_description()["flags"] if flags is None else flags)


KERNEL_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "OMP_NUM_THREADS", "ORT_THREADS")
"""Environment variables that restrict or size those kernels."""

LIBRARIES = ("torch", "lightning", "transformers", "tokenizers", "onnx", "onnxruntime", "numpy")


def cpu_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """CPU model, vendor and the kernel-relevant feature flags (from /proc/cpuinfo where it exists)."""
    # The first processor's entries (all processors of a machine are alike); family/model/stepping because a
    # virtual machine's model name is often generic.
    first: dict[str, str] = {}
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            first.setdefault(key.strip(), value.strip())
    flags = set((first.get("flags") or first.get("Features") or "").split())
    ids = {k: first[k] for k in ("cpu family", "model", "stepping") if k in first}
    return {
        "model": first.get("model name") or platform.processor() or platform.machine(),
        "vendor": first.get("vendor_id"),
        "family_model_stepping": "/".join(ids.get(k, "?") for k in ("cpu family", "model", "stepping")),
        "architecture": platform.machine(),
        "flags": [flag for flag in CPU_FLAGS if flag in flags],
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


def library_versions(names: Sequence[str] = LIBRARIES) -> dict[str, str]:
    """Installed versions (read from package metadata, nothing imported); absent packages are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def torch_description() -> dict[str, Any] | None:
    """torch's CPU kernel level (e.g. AVX512, AVX2) and threads, when torch is already imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }


def onnxruntime_description() -> dict[str, Any] | None:
    """onnxruntime's build and providers, when onnxruntime is already imported (MLAS picks its kernels from the
    CPU flags above; it exposes no switch to read or restrict them)."""
    ort = sys.modules.get("onnxruntime")
    if ort is None:
        return None
    return {"device": ort.get_device(), "providers": list(ort.get_available_providers())}


def machine_description(**settings: Any) -> dict[str, Any]:
    """The machine, its kernel-relevant settings and libraries, with a fingerprint of what decides the numbers.

    `settings` (e.g. threads=2) are recorded and enter the fingerprint.
    """
    description: dict[str, Any] = {
        "cpu": cpu_description(),
        "torch": torch_description(),
        "onnxruntime": onnxruntime_description(),
        "env": {name: os.environ[name] for name in KERNEL_ENV if name in os.environ},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": library_versions(),
        **({"settings": settings} if settings else {}),
    }
    description["fingerprint"] = fingerprint(description)
    return description


def fingerprint(description: dict[str, Any]) -> str:
    """A short id of everything in a description that decides the float results (the CPU model and flags, kernel
    levels, threads, environment restrictions, library versions); the same id promises bit-identical runs."""
    cpu = description["cpu"]
    decisive = {
        "cpu": {
            k: cpu.get(k) for k in ("model", "vendor", "family_model_stepping", "architecture", "flags", "usable_cpus")
        },
        "torch": description.get("torch"),
        "env": description.get("env"),
        "libraries": description.get("libraries"),
        "settings": description.get("settings"),
    }
    canonical = json.dumps(decisive, sort_keys=True, separators=(",", ":"))
    return "fp-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def machine_line(description: dict[str, Any]) -> str:
    """One line naming the machine, for logs and results tables."""
    cpu = description["cpu"]
    torch = description.get("torch") or {}
    level = f", torch {torch['cpu_capability']}" if torch.get("cpu_capability") else ""
    return f"{cpu['model']} ({cpu['usable_cpus']} CPUs{level}; {description['fingerprint']})"
