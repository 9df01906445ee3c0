"""The trainer preset for the teacher: gpu (conf/trainer/gpu.yaml) when torch sees a CUDA device, cpu_bf16 on a CPU
with bf16 matrix units (Intel AMX), cpu otherwise.

`make teacher` runs `python -m model_training.trainer_choice [overrides...]`: it prints the preset to use, or
nothing when the overrides already name one (TRAINER=..., or trainer=... in ARGS), and says why on stderr so the
choice is in the log. CUDA_VISIBLE_DEVICES= hides a GPU; TRAINER=cpu keeps fp32 on an AMX CPU.

bf16 autocast is only faster where the hardware multiplies bf16 (AMX tiles): on AVX-512 or AVX2 alone it is
emulated and slower, so the CPU's flags decide, not a setting.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from model_training.machine import BF16_MATRIX_FLAG, has_bf16_matrix_units


@dataclass(frozen=True)
class TrainerChoice:
    """The preset to add (None: the overrides already name one) and the reason, for the log."""

    preset: str | None
    reason: str


def named_trainer(overrides: Sequence[str]) -> str | None:
    """The trainer preset an override list selects (`trainer=X`, `+trainer=X`, `++trainer=X`), if any."""
    for override in reversed(overrides):
        key, sep, value = override.partition("=")
        if sep and key.lstrip("+") == "trainer":
            return value
    return None


def choose_trainer(
    overrides: Sequence[str],
    cuda_devices: int,
    device_name: str | None = None,
    cpu_flags: Sequence[str] = (),
) -> TrainerChoice:
    """gpu when a CUDA device is visible, cpu_bf16 on an AMX CPU, cpu otherwise; the overrides' choice always wins."""
    if cuda_devices < 0:
        raise ValueError(f"cuda_devices must be >= 0, got {cuda_devices}")
    named = named_trainer(overrides)
    if named is not None:
        return TrainerChoice(None, f"trainer={named} as given")
    if cuda_devices:
        return TrainerChoice("gpu", f"torch sees {cuda_devices} CUDA device(s) ({device_name}): trainer=gpu")
    if has_bf16_matrix_units(cpu_flags):
        return TrainerChoice("cpu_bf16", f"no CUDA device, the CPU has {BF16_MATRIX_FLAG}: trainer=cpu_bf16")
    return TrainerChoice("cpu", f"no CUDA device, the CPU has no {BF16_MATRIX_FLAG}: trainer=cpu")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the preset for these overrides (or nothing) on stdout, the reason on stderr."""
    import torch

    from model_training.machine import cpu_description

    overrides = list(sys.argv[1:] if argv is None else argv)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    name = torch.cuda.get_device_name(0) if count else None
    choice = choose_trainer(overrides, count, name, cpu_description()["flags"])
    print(f"teacher trainer: {choice.reason}", file=sys.stderr)
    if choice.preset is not None:
        print(choice.preset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
