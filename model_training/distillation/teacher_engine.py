"""What computes the teacher's logits: the bundle's fp32 ONNX model (onnxruntime), or the teacher run's own weights
in torch under bf16 autocast, several times faster on a CPU with AMX (bench/results/bf16_training.md).

The bundle stays the reference: before the torch engine labels the transfer set it labels a sample that the bundle
labels too, and it is used only when both agree within the configured tolerance (conf/distill/default.yaml,
`teacher.engine`). Both engines read the same token ids (the bundle's tokenizer), so only the arithmetic differs.
Feature distillation needs the teacher's classifier-head features, which only the run in torch gives (the bundle's
graph outputs logits): then the engine is torch, in bf16 on an AMX CPU and in fp32 elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chalice_app.chalicelib.api.predictor import pad_batch
from model_training.machine import BF16_MATRIX_FLAG, has_bf16_matrix_units
from model_training.models.output_layer import output_layer

ENGINES = ("auto", "onnx", "torch_bf16", "torch_fp32")
TORCH_ENGINES = ("torch_bf16", "torch_fp32")


@dataclass(frozen=True)
class EngineSettings:
    """`engine`: auto (torch_bf16 on an AMX CPU when the teacher run's model is at hand, else onnx), onnx,
    torch_bf16 or torch_fp32; `model_dir`: the teacher run's saved model; `features`: the teacher's classifier-head
    features are needed too (a torch engine); the parity sample's size and tolerances."""

    engine: str = "onnx"
    model_dir: Path | None = None
    features: bool = False
    parity_sentences: int = 512
    max_abs_diff: float = 0.5
    max_mean_abs_diff: float = 0.02
    min_agreement: float = 0.99


@dataclass(frozen=True)
class EngineChoice:
    """The engine to use and why (for the log and the logits' provenance)."""

    engine: str
    reason: str


@dataclass(frozen=True)
class Parity:
    """How the torch engine's logits compare with the bundle's on the sample."""

    n: int
    max_abs_diff: float
    mean_abs_diff: float
    agreement: float

    def passes(self, settings: EngineSettings) -> bool:
        return (
            self.max_abs_diff <= settings.max_abs_diff
            and self.mean_abs_diff <= settings.max_mean_abs_diff
            and self.agreement >= settings.min_agreement
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "max_abs_diff": round(self.max_abs_diff, 6),
            "mean_abs_diff": round(self.mean_abs_diff, 6),
            "agreement": round(self.agreement, 6),
        }


def choose_engine(settings: EngineSettings, cpu_flags: list[str] | None = None) -> EngineChoice:
    """The configured engine, or for `auto` the fast one where it pays and can run."""
    if settings.engine not in ENGINES:
        raise ValueError(f"distill.teacher.engine must be one of {', '.join(ENGINES)}, got {settings.engine!r}")
    if settings.features:
        return _torch_for_features(settings, cpu_flags)
    if settings.engine == "onnx":
        return EngineChoice("onnx", "engine=onnx as configured")
    model_dir = settings.model_dir
    has_model = model_dir is not None and (model_dir / "config.json").is_file()
    if settings.engine in TORCH_ENGINES:
        if not has_model:
            raise FileNotFoundError(
                f"distill.teacher.engine={settings.engine} needs the teacher run's saved model, not found at "
                f"{model_dir}: train the teacher here (make teacher-train) or set distill.teacher.engine=onnx"
            )
        return EngineChoice(settings.engine, f"engine={settings.engine} as configured")
    if not has_bf16_matrix_units(cpu_flags):
        return EngineChoice("onnx", f"auto: the CPU has no {BF16_MATRIX_FLAG}")
    if not has_model:
        return EngineChoice("onnx", f"auto: no teacher run model at {model_dir} (a pulled bundle): the bundle")
    return EngineChoice("torch_bf16", f"auto: the CPU has {BF16_MATRIX_FLAG} and the teacher run's model is here")


def _torch_for_features(settings: EngineSettings, cpu_flags: list[str] | None) -> EngineChoice:
    """The torch engine that gives the teacher's features as well as its logits, or why there is none."""
    model_dir = settings.model_dir
    if model_dir is None or not (model_dir / "config.json").is_file():
        raise FileNotFoundError(
            f"feature distillation (distill.feature_weight > 0) needs the teacher run's saved model, not found at "
            f"{model_dir}: train the teacher here (make teacher-train), point distill.teacher.run_model at it, or "
            "set distill.feature_weight=0 to distil from the bundle's logits alone"
        )
    if settings.engine == "onnx":
        raise ValueError(
            "distill.teacher.engine=onnx gives logits only, and distill.feature_weight > 0 needs the teacher's "
            "features: use engine=auto (or a torch engine), or set distill.feature_weight=0"
        )
    if settings.engine in TORCH_ENGINES:
        return EngineChoice(settings.engine, f"engine={settings.engine} as configured, with the teacher's features")
    if has_bf16_matrix_units(cpu_flags):
        return EngineChoice("torch_bf16", f"auto with features: the CPU has {BF16_MATRIX_FLAG}")
    return EngineChoice("torch_fp32", f"auto with features: the CPU has no {BF16_MATRIX_FLAG}, so fp32")


def parity(candidate: np.ndarray, reference: np.ndarray) -> Parity:
    """Largest and mean |Δlogit| and the share of equal argmax between two (n, 2) logit arrays."""
    if candidate.shape != reference.shape or candidate.ndim != 2 or len(candidate) == 0:
        raise ValueError(f"parity needs two equal (n, k) arrays, got {candidate.shape} and {reference.shape}")
    diff = np.abs(candidate.astype(np.float64) - reference.astype(np.float64))
    agreement = float((candidate.argmax(1) == reference.argmax(1)).mean())
    return Parity(len(candidate), float(diff.max()), float(diff.mean()), agreement)


def sample_rows(n: int, size: int, seed: int = 0) -> list[int]:
    """A fixed sample of row indices (sorted), the whole range when `size` >= n."""
    if size >= n:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, size=size, replace=False).tolist())


class TorchTeacher:
    """The teacher run's saved model in torch, eval mode, forward under bf16 autocast on the CPU (or in fp32)."""

    def __init__(self, model_dir: Path, pad_id: int, bf16: bool = True) -> None:
        from transformers import AutoModelForSequenceClassification

        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
        self.pad_id = pad_id
        self.bf16 = bf16
        self._features: list[Any] = []
        output_layer(self.model).register_forward_pre_hook(lambda module, args: self._features.append(args[0]))

    @property
    def feature_size(self) -> int:
        """Width of the classifier-head features (768 for MPNet-base)."""
        return int(output_layer(self.model).in_features)

    def _forward(self, token_ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        feeds = {name: torch.from_numpy(array) for name, array in pad_batch(token_ids, self.pad_id).items()}
        self._features.clear()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(**feeds).logits
        return out.float().numpy(), self._features.pop().float().numpy()

    def logits(self, token_ids: list[list[int]]) -> np.ndarray:
        """fp32 logits (n, labels) of a batch of token id sequences (padded here as the bundle pads them)."""
        return self._forward(token_ids)[0]

    def logits_and_features(self, token_ids: list[list[int]]) -> np.ndarray:
        """Logits and the classifier head's features side by side: (n, labels + feature_size), fp32."""
        return np.concatenate(self._forward(token_ids), axis=1)

    def split(self, both: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`logits_and_features` output (for any number of rows) back into logits and fp16 features."""
        labels = both.shape[1] - self.feature_size
        return both[:, :labels], both[:, labels:].astype(np.float16)
