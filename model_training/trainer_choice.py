"""The trainer preset for the teacher: gpu (conf/trainer/gpu.yaml) when torch sees a CUDA device, cpu otherwise.

`make teacher` runs `python -m model_training.trainer_choice [overrides...]`: it prints the preset to use, or
nothing when the overrides already name one (TRAINER=..., or trainer=... in ARGS), and says why on stderr so the
choice is in the log. CPU machines keep the default CPU path; CUDA_VISIBLE_DEVICES= hides a GPU.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass


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


def choose_trainer(overrides: Sequence[str], cuda_devices: int, device_name: str | None = None) -> TrainerChoice:
    """gpu when a CUDA device is visible, cpu when none is; the overrides' own choice always wins."""
    if cuda_devices < 0:
        raise ValueError(f"cuda_devices must be >= 0, got {cuda_devices}")
    named = named_trainer(overrides)
    if named is not None:
        return TrainerChoice(None, f"trainer={named} as given")
    if cuda_devices:
        return TrainerChoice("gpu", f"torch sees {cuda_devices} CUDA device(s) ({device_name}): trainer=gpu")
    return TrainerChoice("cpu", "torch sees no CUDA device: trainer=cpu")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the preset for these overrides (or nothing) on stdout, the reason on stderr."""
    import torch

    overrides = list(sys.argv[1:] if argv is None else argv)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    choice = choose_trainer(overrides, count, torch.cuda.get_device_name(0) if count else None)
    print(f"teacher trainer: {choice.reason}", file=sys.stderr)
    if choice.preset is not None:
        print(choice.preset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
