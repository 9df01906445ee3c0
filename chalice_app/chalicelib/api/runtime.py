"""The process's settings and model: loaded lazily, once per process (a Lambda container, a `chalice local`).

Importing the app stays cheap (no onnxruntime import, no hashing); the first request that needs the model
verifies the bundle and builds the predictor. A failure is remembered: the service answers 503 until the process
is replaced (on Lambda a new deployment does that), and the reason goes to the logs once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from ..contract.json_logging import log_error, log_event, set_level
from ..contract.log_line import PredictionLike
from ..contract.manifest import BundleError, Manifest
from ..environment import SettingsError
from .errors import PUBLIC_MESSAGES, ApiError
from .settings import Settings


class Model(Protocol):
    """What the API needs from a predictor (chalicelib.api.predictor.Predictor fits; tests pass fakes)."""

    @property
    def manifest(self) -> Manifest: ...
    @property
    def model_file(self) -> str: ...
    @property
    def model_version(self) -> str: ...
    def predict(self, texts: list[str]) -> Sequence[PredictionLike]: ...


ModelLoader = Callable[[Settings], Model]


def load_predictor(settings: Settings) -> Model:
    """The real predictor over settings.model_dir (onnxruntime is imported here, not at app import)."""
    from .predictor import Predictor

    predictor: Model = Predictor(settings.model_dir, model_file=settings.model_file, threads=settings.ort_threads)
    return predictor


class Runtime:
    """Lazily loaded settings and model with their failures, shared by all requests of the process."""

    def __init__(self, load_model: ModelLoader = load_predictor) -> None:
        self._load_model = load_model
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget settings, model and failures: the next request loads again from the environment."""
        self._settings: Settings | None = None
        self._model: Model | None = None
        self._settings_failure: ApiError | None = None
        self._model_failure: ApiError | None = None

    def configure(self, settings: Settings, model: Model | None = None) -> None:
        """Use these settings (and this model, if given) instead of the environment's."""
        with self._lock:
            self.reset()
            self._settings = settings
            self._model = model
            set_level(settings.log_level)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def settings(self) -> Settings:
        """The settings, read from the environment on first use; 503 misconfigured if they are invalid."""
        if self._settings is None:
            with self._lock:
                if self._settings_failure is not None:
                    raise self._settings_failure
                if self._settings is None:
                    self._settings = self._read_settings()
        return self._settings

    def model(self) -> Model:
        """The model, loaded on first use; 503 model_unavailable if the bundle cannot be served."""
        settings = self.settings()
        if self._model is None:
            with self._lock:
                if self._model_failure is not None:
                    raise self._model_failure
                if self._model is None:
                    self._model = self._load(settings)
        return self._model

    def _read_settings(self) -> Settings:
        try:
            settings = Settings.from_env()
        except SettingsError as err:
            self._settings_failure = ApiError("misconfigured", PUBLIC_MESSAGES["misconfigured"])
            log_error("misconfigured", str(err), None)
            raise self._settings_failure from None
        set_level(settings.log_level)
        return settings

    def _load(self, settings: Settings) -> Model:
        started = time.perf_counter()
        try:
            model = self._load_model(settings)
        except Exception as err:
            # The detail (paths, hashes) is for operators: it goes to the log line, the client gets PUBLIC_MESSAGES.
            detail = (
                str(err)
                if isinstance(err, BundleError)
                else f"{type(err).__name__} loading {settings.model_dir}: {err}"
            )
            self._model_failure = ApiError("model_unavailable", PUBLIC_MESSAGES["model_unavailable"])
            log_error("model_unavailable", detail, None, with_traceback=True)
            raise self._model_failure from None
        log_event(
            "model_loaded",
            model_version=model.model_version,
            model_file=model.model_file,
            model_dir=str(settings.model_dir),
            load_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return model
