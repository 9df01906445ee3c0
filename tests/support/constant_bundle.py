"""A deliberately broken bundle: a real ONNX model that answers the same logits whatever the sentence, a real
tokenizer, and a manifest written by the contract's writer. The runtime predictor serves it like any bundle, so
what judges a model (behaviour tests, the quality gate) can be shown to fail a constant predictor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from tests.support.manifests import write_minimal_bundle


def constant_model(logits: tuple[float, ...]) -> bytes:
    """ONNX bytes: input_ids and attention_mask [batch, sequence] -> logits [batch, len(logits)], every row equal."""
    graph = helper.make_graph(
        nodes=[
            helper.make_node("Shape", ["input_ids"], ["shape"]),
            helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
            helper.make_node("Concat", ["batch", "width"], ["out_shape"], axis=0),
            helper.make_node("Expand", ["row", "out_shape"], ["logits"]),
        ],
        name="constant",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        outputs=[helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(logits)])],
        initializer=[
            helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
            helper.make_tensor("one", TensorProto.INT64, [1], [1]),
            helper.make_tensor("width", TensorProto.INT64, [1], [len(logits)]),
            helper.make_tensor("row", TensorProto.FLOAT, [1, len(logits)], list(logits)),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def word_tokenizer() -> bytes:
    """A whitespace word-level tokenizer.json with [PAD] 0 and [UNK] 1 (every word is unknown: the model ignores it)."""
    tokenizer = Tokenizer(WordLevel({"[PAD]": 0, "[UNK]": 1}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()  # type: ignore[assignment]
    return tokenizer.to_str().encode()


def write_constant_bundle(directory: Path, logits: tuple[float, ...] = (-1.0, 1.0), **sections: Any) -> str:
    """A bundle in `directory` serving `constant_model(logits)` as model.onnx; returns its model version."""
    files = {"model.onnx": constant_model(logits), "tokenizer.json": word_tokenizer()}
    return write_minimal_bundle(directory, files, **sections)
