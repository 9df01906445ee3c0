"""Torch-free predictor: a verified model bundle served with onnxruntime, tokenizers and numpy."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from ..contract.manifest import SESSION_BATCH, TOKENIZER_FILE, BundleError, load_manifest, verify_bundle
from .cpu import CpuBudget, cpu_budget


@dataclass(frozen=True)
class Prediction:
    """One sentence's prediction and what the logs need to know about its input."""

    label: str
    score: float
    probabilities: dict[str, float]
    n_chars: int
    n_tokens: int
    truncated: bool
    unknown_token_rate: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": self.score,
            "probabilities": self.probabilities,
            "n_chars": self.n_chars,
            "n_tokens": self.n_tokens,
            "truncated": self.truncated,
            "unknown_token_rate": self.unknown_token_rate,
        }


def session_options(threads: int | None = None, budget: CpuBudget | None = None) -> ort.SessionOptions:
    """Threads that fit the CPU the process really has (cpu.py): `threads`, else sized from the cgroup quota and
    affinity; no spinning under a quota (a waiting thread would burn it); no inter-op parallelism."""
    budget = budget if budget is not None else cpu_budget()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or budget.threads()
    if budget.limited:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)
"""onnxruntime graph rewrites the predictor's sessions skip: a bundle exported with its SkipLayerNormalization
written as Add + LayerNormalization (export.unfuse_skip_layer_norm) stays that way, the faster kernels on CPU."""


def inference_session(model: Path, options: ort.SessionOptions) -> ort.InferenceSession:
    """A CPU session on `model` as the predictor makes it: `options` (session_options) and DISABLED_OPTIMIZERS."""
    return ort.InferenceSession(
        str(model), options, providers=["CPUExecutionProvider"], disabled_optimizers=list(DISABLED_OPTIMIZERS)
    )


class Predictor:
    """Classify sentences with a model bundle; label names come from its manifest."""

    def __init__(self, bundle_dir: Path, model_file: str | None = None, threads: int | None = None) -> None:
        self.bundle_dir = Path(bundle_dir)
        self.manifest = load_manifest(self.bundle_dir)
        self.model_file = model_file or self.manifest["serving"]["model_file"]
        if self.model_file not in self.manifest["files"] or not self.model_file.endswith(".onnx"):
            raise BundleError(
                f"{self.bundle_dir}: model file {self.model_file!r} is not an ONNX model of the bundle "
                f"(has: {', '.join(sorted(self.manifest['files']))})"
            )
        # Hash exactly what is loaded: the served model and the tokenizer (the other model file may be absent).
        verify_bundle(self.bundle_dir, self.manifest, only=[self.model_file, TOKENIZER_FILE])
        tokenizer_info = self.manifest["tokenizer"]
        self.max_length: int = int(tokenizer_info["max_length"])
        self.pad_id: int = int(tokenizer_info["pad_id"])
        self.unk_id: int | None = tokenizer_info.get("unk_id")
        self.labels: tuple[str, ...] = tuple(self.manifest["labels"])
        self.tokenizer = Tokenizer.from_file(str(self.bundle_dir / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()
        batching = self.manifest["serving"].get("session_batch") or SESSION_BATCH
        self.session_batch: int = int(batching.get(self.model_file, SESSION_BATCH.get(self.model_file, 1)))
        self.threads: int = threads or cpu_budget().threads()
        self.session = self._session(self.threads)
        # A model run one sentence per call (int8) runs a batch's calls side by side on `threads` workers, each
        # call on one intra-op thread of a second session (made at the first batch): measured on two idle cores,
        # a lone sentence is fastest on two threads, a batch on two one-thread calls at a time
        # (bench/results/thread_layout.md).
        self._batch_session: ort.InferenceSession | None = None
        self._workers: ThreadPoolExecutor | None = None
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]

    @property
    def model_version(self) -> str:
        return self.manifest["model_version"]

    def predict(self, texts: list[str]) -> list[Prediction]:
        """Predict a batch of texts (any unicode; empty strings allowed).

        A sentence's result never depends on the rest of the batch: dynamic int8 quantization scales activations
        over the whole input tensor (padding included), so the quantized model runs one sentence per session
        call (`session_batch` 1), while fp32 runs the batch at once.
        """
        if not texts:
            return []
        # One sentence (the API's common case) skips the batch encoder's thread-pool hand-off.
        encodings = self.tokenizer.encode_batch(texts) if len(texts) > 1 else [self.tokenizer.encode(texts[0])]
        ids = [e.ids for e in encodings]
        step = self.session_batch or len(ids)
        calls = [ids[i : i + step] for i in range(0, len(ids), step)]
        if len(calls) > 1 and self.threads > 1:
            session, workers = self._side_by_side()
            outputs = list(workers.map(lambda call: self.logits(call, session), calls))
        else:
            outputs = [self.logits(call) for call in calls]
        logits = np.concatenate(outputs)
        probs = softmax(logits.astype(np.float64)).tolist()
        return [
            self._prediction(text, encoding, token_ids, p)
            for text, encoding, token_ids, p in zip(texts, encodings, ids, probs, strict=True)
        ]

    def _session(self, threads: int) -> ort.InferenceSession:
        return inference_session(self.bundle_dir / self.model_file, session_options(threads))

    def _side_by_side(self) -> tuple[ort.InferenceSession, ThreadPoolExecutor]:
        """The one-thread session and the workers that run a batch's calls at once (onnxruntime releases the GIL
        while it runs); made at the first batch, so a cold start pays nothing for them."""
        if self._batch_session is None or self._workers is None:
            self._batch_session = self._session(1)
            self._workers = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="predictor")
        return self._batch_session, self._workers

    def logits(self, token_ids: list[list[int]], session: ort.InferenceSession | None = None) -> np.ndarray:
        """Raw logits of one session call over token id sequences (padded here): [len(token_ids), labels]."""
        feeds = pad_batch(token_ids, self.pad_id)
        (logits,) = (session or self.session).run(
            self.output_names, {k: v for k, v in feeds.items() if k in self.input_names}
        )
        return np.asarray(logits)

    def _prediction(self, text: str, encoding: Any, ids: list[int], probs: list[float]) -> Prediction:
        index = max(range(len(probs)), key=probs.__getitem__)
        special = sum(encoding.special_tokens_mask)
        content = max(len(ids) - special, 0)
        unknown = ids.count(self.unk_id) if self.unk_id is not None else 0
        return Prediction(
            label=self.labels[index],
            score=probs[index],
            probabilities=dict(zip(self.labels, probs, strict=True)),
            n_chars=len(text),
            n_tokens=content,
            truncated=bool(encoding.overflowing),
            unknown_token_rate=unknown / content if content else 0.0,
        )


def pad_batch(sequences: list[list[int]], pad_id: int) -> dict[str, np.ndarray]:
    """The model's inputs for token id sequences: int64 input_ids padded to the longest, and the attention mask."""
    width = max(len(ids) for ids in sequences)
    input_ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    probs: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return probs
