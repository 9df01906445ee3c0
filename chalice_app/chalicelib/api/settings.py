"""Serving settings, read from the environment (.chalice/config.json sets them per stage).

MODEL_DIR       bundle directory; relative paths resolve against the app directory (default chalicelib/bundle,
                where a deployment package carries the bundle). `make serve` points it at artifacts/bundles/<run>.
MODEL_FILE      ONNX file of the bundle to serve (default: the manifest's serving.model_file)
MAX_BATCH       most texts per request (default 64; the API contract promises at least 32)
MAX_TEXT_CHARS  hard cap on one text's length in characters (default 20000; longer texts are refused with 413)
LOG_RAW_TEXT    "true" puts the raw text into prediction log lines (default "false": only its sha256)
LOG_LEVEL       level of diagnostic logs (DEBUG, INFO, WARNING, ERROR, CRITICAL; default INFO)
ORT_THREADS     CPU threads of the predictor, a whole number >= 1 (default: sized from the CPU quota, cpu.py)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..environment import SettingsError

APP_DIR = Path(__file__).resolve().parents[2]
"""The Chalice project directory (the deployment package's root, /var/task on Lambda)."""

DEFAULT_MODEL_DIR = "chalicelib/bundle"
DEFAULT_MAX_BATCH = 64
MIN_MAX_BATCH = 32
DEFAULT_MAX_TEXT_CHARS = 20_000
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Settings:
    """What the API needs to know about its deployment."""

    model_dir: Path = field(default_factory=lambda: APP_DIR / DEFAULT_MODEL_DIR)
    model_file: str | None = None
    max_batch: int = DEFAULT_MAX_BATCH
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    log_raw_text: bool = False
    log_level: str = "INFO"
    ort_threads: int | None = None

    def __post_init__(self) -> None:
        if self.max_batch < MIN_MAX_BATCH:
            raise SettingsError(f"MAX_BATCH must be at least {MIN_MAX_BATCH} (the API contract), got {self.max_batch}")
        if self.max_text_chars < 1:
            raise SettingsError(f"MAX_TEXT_CHARS must be positive, got {self.max_text_chars}")
        if self.ort_threads is not None and self.ort_threads < 1:
            raise SettingsError(f"ORT_THREADS must be a whole number >= 1 (or unset), got {self.ort_threads}")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default os.environ); unset or empty variables take the defaults."""
        env = os.environ if environ is None else environ
        return cls(
            model_dir=resolve_model_dir(env.get("MODEL_DIR") or DEFAULT_MODEL_DIR),
            model_file=env.get("MODEL_FILE") or None,
            max_batch=_int(env, "MAX_BATCH", DEFAULT_MAX_BATCH),
            max_text_chars=_int(env, "MAX_TEXT_CHARS", DEFAULT_MAX_TEXT_CHARS),
            log_raw_text=_bool(env, "LOG_RAW_TEXT"),
            log_level=(env.get("LOG_LEVEL") or "INFO").strip().upper(),
            ort_threads=_int(env, "ORT_THREADS", 0) if env.get("ORT_THREADS", "").strip() else None,
        )


def resolve_model_dir(value: str) -> Path:
    """An absolute path as is; a relative one against the app directory, so the working directory never matters."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else APP_DIR / path


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")
