"""Structured schema for the training config: types checked by OmegaConf, values checked here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

GRAPH_FUSION_TYPES = ("bert",)
"""model.graph_fusion values: encoder families whose onnxruntime fusion export/fusion.py has verified."""


class ConfigError(ValueError):
    """The composed configuration is invalid; the message names the key and what to do."""


@dataclass
class DataConfig:
    source: str = "local"
    train_file: str | None = None
    validation_file: str | None = None
    extra_eval_files: dict[str, str] = field(default_factory=dict)
    hub_id: str = "nyu-mll/glue"
    hub_config: str = "cola"
    max_length: int = 64
    padding: str = "dynamic"
    limit_train: int | None = None
    limit_validation: int | None = None
    num_workers: int = 0
    group_by_length: bool = True


@dataclass
class QuantizationConfig:
    """int8 export settings per encoder (conf/export interpolates them)."""

    int8: bool = True
    per_channel: bool = False
    reduce_range: bool = False
    keep_fp32: list[str] = field(default_factory=list)


@dataclass
class FineTuningConfig:
    """Per-encoder training defaults that conf/training and conf/data interpolate."""

    lr: float = 1e-4
    max_epochs: int = 8
    group_by_length: bool = False


@dataclass
class ModelConfig:
    name: str = "minilm"
    sha256: str | None = None
    path: str | None = None
    package: str | None = None
    package_subdir: str = "model"
    zip_parts: list[str] = field(default_factory=list)
    zip_root: str | None = None
    hub_id: str | None = None
    hub_revision: str | None = None
    tokenizer: str | None = None
    dropout: float | None = None
    graph_fusion: str | None = None
    quantization: QuantizationConfig = field(default_factory=lambda: QuantizationConfig())
    fine_tuning: FineTuningConfig = field(default_factory=lambda: FineTuningConfig())


@dataclass
class TrainingConfig:
    batch_size: int = 32
    eval_batch_size: int = 128
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_epochs: int = 5
    gradient_clip_val: float = 1.0
    early_stopping_patience: int = 3
    monitor: str = "val/mcc"


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "training": TrainingConfig}


def check_config(cfg: DictConfig) -> None:
    """Validate types (against the dataclasses) and values; raise ConfigError with a clear message."""
    for section, schema in SECTIONS.items():
        if section not in cfg:
            raise ConfigError(f"config has no '{section}' section (is conf/config.yaml's defaults list intact?)")
        try:
            OmegaConf.merge(OmegaConf.structured(schema), cfg[section])
        except Exception as err:  # OmegaConf raises several types; all mean a bad value or key
            key = getattr(err, "full_key", None)
            where = f"{section}.{key}" if key else section
            raise ConfigError(f"{where}: {_first_line(err)}") from err
    _check_values(cfg)


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]


def _check_values(cfg: DictConfig) -> None:
    data, model, training = cfg.data, cfg.model, cfg.training
    rules: list[tuple[bool, str]] = [
        (data.source in ("local", "hub"), f"data.source must be 'local' or 'hub', got {data.source!r}"),
        (data.padding in ("dynamic", "fixed"), f"data.padding must be 'dynamic' or 'fixed', got {data.padding!r}"),
        (8 <= data.max_length <= 512, f"data.max_length must be in [8, 512], got {data.max_length}"),
        (training.lr > 0, f"training.lr must be > 0, got {training.lr}"),
        (training.batch_size > 0, f"training.batch_size must be > 0, got {training.batch_size}"),
        (training.eval_batch_size > 0, f"training.eval_batch_size must be > 0, got {training.eval_batch_size}"),
        (training.max_epochs >= 1, f"training.max_epochs must be >= 1, got {training.max_epochs}"),
        (0 <= training.warmup_ratio < 1, f"training.warmup_ratio must be in [0, 1), got {training.warmup_ratio}"),
        (training.weight_decay >= 0, f"training.weight_decay must be >= 0, got {training.weight_decay}"),
        (
            any([model.path, model.package, model.zip_parts, model.hub_id]),
            f"model {model.name!r} names no source: set model.path, model.package or model.hub_id "
            "(or pick a preset: model=minilm, model=mpnet)",
        ),
        (
            model.get("graph_fusion") in (None, *GRAPH_FUSION_TYPES),
            f"model.graph_fusion must be {' or '.join(repr(t) for t in GRAPH_FUSION_TYPES)} or null, "
            f"got {model.get('graph_fusion')!r}",
        ),
        (
            model.dropout is None or 0 <= model.dropout < 1,
            f"model.dropout must be in [0, 1) or null, got {model.dropout}",
        ),
    ]
    for ok, message in rules:
        if not ok:
            raise ConfigError(message)
    if data.source == "local":
        for key in ("train_file", "validation_file"):
            _require_file(f"data.{key}", data[key])
    for name, path in (data.extra_eval_files or {}).items():
        _require_file(f"data.extra_eval_files.{name}", path)


def _require_file(key: str, path: Any) -> None:
    if not path or not Path(str(path)).is_file():
        raise ConfigError(f"{key}: file not found: {path!r}")
