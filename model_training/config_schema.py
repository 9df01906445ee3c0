"""Structured schema for the training config: types checked by OmegaConf, values checked here.

Every field is `MISSING`: conf/ sets them all, so the YAML is the one source of values and the schema only says
what a value must look like. A value conf/ leaves `???` (e.g. training.lr without an encoder recipe) fails here,
naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf

from model_training.models.pretrained import PretrainedSpec

GRAPH_FUSION_TYPES = ("bert",)
"""export.graph_fusion values: encoder families whose onnxruntime fusion export/fusion.py has verified."""


class ConfigError(ValueError):
    """The composed configuration is invalid; the message names the key and what to do."""


@dataclass
class DataConfig:
    """conf/data/<source>.yaml: where the sentences come from, their label names and how they are batched."""

    source: str = MISSING
    train_file: str | None = MISSING
    validation_file: str | None = MISSING
    extra_eval_files: dict[str, str] = MISSING
    hub_id: str = MISSING
    hub_config: str = MISSING
    labels: list[str] = MISSING
    max_length: int = MISSING
    padding: str = MISSING
    group_by_length: bool = MISSING
    limit_train: int | None = MISSING
    limit_validation: int | None = MISSING
    num_workers: int = MISSING
    datamodule: dict[str, Any] = MISSING


ModelConfig = PretrainedSpec
"""conf/model/<encoder>.yaml is a pretrained encoder's spec (model_training.models.pretrained)."""


@dataclass
class TrainingConfig:
    """conf/training/default.yaml, with lr and max_epochs from the encoder's recipe (conf/experiment/recipe/)."""

    batch_size: int = MISSING
    eval_batch_size: int = MISSING
    lr: float = MISSING
    weight_decay: float = MISSING
    warmup_ratio: float = MISSING
    max_epochs: int = MISSING
    gradient_clip_val: float = MISSING
    early_stopping_patience: int = MISSING
    monitor: str = MISSING


@dataclass
class Int8FallbackConfig:
    """One entry of export.quantization.fallbacks: the options it changes (null: the base setting's)."""

    per_channel: bool | None = None
    reduce_range: bool | None = None
    keep_fp32: list[str] | None = None


@dataclass
class QuantizationConfig:
    """conf/export/<encoder>.yaml's int8 settings, and the settings tried next when int8 fails its gates."""

    int8: bool = MISSING
    per_channel: bool = MISSING
    reduce_range: bool = MISSING
    keep_fp32: list[str] = MISSING
    fallbacks: list[Int8FallbackConfig] = MISSING


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "training": TrainingConfig}


def check_config(cfg: DictConfig) -> None:
    """Validate types (against the dataclasses) and values; raise ConfigError with a clear message."""
    for section, schema in SECTIONS.items():
        if section not in cfg:
            raise ConfigError(f"config has no '{section}' section (is conf/config.yaml's defaults list intact?)")
        _check_types(section, schema, cfg[section])
    _check_values(cfg)


def check_export_config(cfg: DictConfig) -> None:
    """Validate the encoder's export settings (cfg.export.graph_fusion and cfg.export.quantization)."""
    if "export" not in cfg:
        raise ConfigError("config has no 'export' section: compose conf/export.yaml (python -m export.build)")
    _check_types("export.quantization", QuantizationConfig, cfg.export.quantization)
    fusion = cfg.export.graph_fusion
    if fusion not in (None, *GRAPH_FUSION_TYPES):
        choices = " or ".join(repr(t) for t in GRAPH_FUSION_TYPES)
        raise ConfigError(f"export.graph_fusion must be {choices} or null, got {fusion!r}")


def _check_types(section: str, schema: type, values: Any) -> None:
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), values)
    except Exception as err:  # OmegaConf raises several types; all mean a bad value or key
        key = getattr(err, "full_key", None)
        where = f"{section}.{key}" if key else section
        raise ConfigError(f"{where}: {_first_line(err)}") from err
    unset = [str(key) for key in merged if OmegaConf.is_missing(merged, key)]  # `???`, without resolving the others
    if unset:
        keys = ", ".join(f"{section}.{key}" for key in unset)
        raise ConfigError(f"{keys}: not set (???); conf/ or an override must give a value")


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]


def _check_values(cfg: DictConfig) -> None:
    data, model, training = cfg.data, cfg.model, cfg.training
    labels = list(data.labels)
    rules: list[tuple[bool, str]] = [
        (data.source in ("local", "hub"), f"data.source must be 'local' or 'hub', got {data.source!r}"),
        (data.padding in ("dynamic", "fixed"), f"data.padding must be 'dynamic' or 'fixed', got {data.padding!r}"),
        (8 <= data.max_length <= 512, f"data.max_length must be in [8, 512], got {data.max_length}"),
        (
            len(labels) == 2 and all(name.strip() for name in labels) and labels[0] != labels[1],
            f"data.labels must be two distinct non-empty names (index = class id), got {labels}",
        ),
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
