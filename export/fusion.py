"""Offline graph fusion with onnxruntime's transformer optimizer: fewer, bigger kernels for small inputs.

The exported encoder is dozens of small ops per layer; onnxruntime's transformer optimizer rewrites them into its
fused contrib ops (Attention, EmbedLayerNormalization, SkipLayerNormalization, BiasGelu). For one short sentence the
per-op overhead dominates, so the fused graph is faster in fp32 and, quantized (Attention → QAttention), in int8.
The embedding block is left unfused: quantized, EmbedLayerNormalization becomes QEmbedLayerNormalization, which
also rounds the LayerNorm's gamma and beta to uint8 (the plain MiniLM's int8 agreement fell to 96.6%, under the
97% gate); unfused, only the word-embedding Gather is quantized, as in the unfused graph.
Only the graph-rewriting fusions run here (opt_level 1): hardware-specific optimizations stay with the session that
loads the model on its own machine.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from model_training.config_schema import GRAPH_FUSION_TYPES

FUSED_OPS = ("Attention", "EmbedLayerNormalization", "SkipLayerNormalization", "BiasGelu", "Gelu", "FastGelu")


class FusionError(ValueError):
    """The graph cannot be fused as configured; the message says which setting to change."""


def fuse_graph(source: Path, target: Path, model_type: str, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Write the fused graph of `source` to `target`; returns how many of each fused op it has.

    Raises FusionError for an unknown model type or when no attention block fused (a graph the optimizer does not
    recognise would otherwise pass silently as "fused").
    """
    if model_type not in GRAPH_FUSION_TYPES:
        raise FusionError(
            f"graph fusion {model_type!r} is not supported (supported: {', '.join(GRAPH_FUSION_TYPES)}); "
            "set export.graph_fusion=null to export the graph as it is"
        )
    from onnxruntime.transformers.fusion_options import FusionOptions  # heavy imports: only when fusing
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions(model_type)
    options.enable_embed_layer_norm = False

    quiet = logging.getLogger("onnxruntime.transformers")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # the optimizer logs one line per fusion pass
    try:
        optimized = optimize_model(
            str(source),
            model_type=model_type,
            num_heads=num_heads,
            hidden_size=hidden_size,
            optimization_options=options,
            opt_level=1,
        )
    finally:
        quiet.setLevel(level)
    optimized.save_model_to_file(str(target))
    counts = fused_op_counts(target)
    if not counts.get("Attention"):
        target.unlink(missing_ok=True)
        raise FusionError(
            f"{source.name}: no attention block fused with model type {model_type!r} (was the model exported with "
            "eager attention?); set export.graph_fusion=null to export the graph as it is"
        )
    return counts


def fused_op_counts(model_path: Path) -> dict[str, int]:
    """How many nodes of each fused op type the model has (zero counts left out)."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    counts = Counter(node.op_type for node in graph.node if node.op_type in FUSED_OPS)
    return dict(sorted(counts.items()))


def last_layer_for_cls_only(model_path: Path) -> dict[str, str]:
    """Rewrite the fused graph in place so the last layer computes only the [CLS] row after its attention.

    The classifier reads the final hidden state at position 0 only, so the last layer's attention output projection,
    feed-forward block and layer norms are needed for that row alone (the attention itself still reads every key).
    Two Slice nodes cut the attention output and the residual to position 0: about a ninth less work for a short
    sentence, with identical fp32 logits. Refuses (FusionError) a graph whose head reads anything but position 0.
    """
    model = onnx.load(str(model_path))
    graph = model.graph
    attentions = [n for n in graph.node if n.op_type == "Attention"]
    if not attentions:
        raise FusionError(f"{model_path.name}: no fused Attention node; the [CLS]-only last layer needs graph fusion")
    attention = attentions[-1]
    attended, residual = attention.output[0], attention.input[0]
    projection = _only_consumer(graph, attended, "MatMul")
    skip_norm = _only_consumer(graph, projection.output[0], "SkipLayerNormalization")
    if skip_norm.input[1] != residual:
        raise FusionError(f"{model_path.name}: the last layer's residual is not its attention input; not rewritten")
    _require_cls_head(graph, _last_hidden_state(graph, skip_norm), model_path)

    constants = {"cls_slice_start": 0, "cls_slice_end": 1, "cls_slice_axis": 1}
    graph.initializer.extend(numpy_helper.from_array(np.array([v], dtype=np.int64), k) for k, v in constants.items())
    slices = [
        helper.make_node("Slice", [name, *constants], [f"{name}_cls"], name=f"LastLayerCls_{part}")
        for part, name in (("attention", attended), ("residual", residual))
    ]
    projection.input[0] = f"{attended}_cls"
    skip_norm.input[1] = f"{residual}_cls"
    nodes = list(graph.node)
    at = nodes.index(projection)
    del graph.node[:]
    graph.node.extend([*nodes[:at], *slices, *nodes[at:]])
    onnx.checker.check_model(model)
    onnx.save(model, str(model_path))
    return {"layer_attention": attention.name}


def _only_consumer(graph: onnx.GraphProto, tensor: str, op_type: str) -> onnx.NodeProto:
    consumers = [n for n in graph.node if tensor in n.input]
    if len(consumers) != 1 or consumers[0].op_type != op_type:
        found = ", ".join(n.op_type for n in consumers) or "none"
        raise FusionError(f"{tensor} feeds {found}, not one {op_type}: not the fused BERT layer expected")
    return consumers[0]


def _last_hidden_state(graph: onnx.GraphProto, node: onnx.NodeProto) -> str:
    """Follow single consumers from `node` to the last SkipLayerNormalization: the encoder's output."""
    last = node
    while True:
        consumers = [n for n in graph.node if last.output[0] in n.input]
        following = [n for n in consumers if n.op_type in ("MatMul", "BiasGelu", "Gelu", "SkipLayerNormalization")]
        if not following:
            return str(last.output[0])
        last = following[0]


def _constant(graph: onnx.GraphProto, name: str) -> np.ndarray | None:
    """The value of an initializer or Constant node output named `name` (None when it is computed)."""
    for initializer in graph.initializer:
        if initializer.name == name:
            return numpy_helper.to_array(initializer)
    for node in graph.node:
        if (
            node.op_type == "Constant"
            and node.output[0] == name
            and node.attribute
            and node.attribute[0].name == "value"
        ):
            return numpy_helper.to_array(node.attribute[0].t)
    return None


def _require_cls_head(graph: onnx.GraphProto, hidden: str, model_path: Path) -> None:
    readers = [n for n in graph.node if hidden in n.input]
    for reader in readers:
        axis = next((helper.get_attribute_value(a) for a in reader.attribute if a.name == "axis"), 0)
        index = _constant(graph, reader.input[1]) if reader.op_type == "Gather" and len(reader.input) > 1 else None
        if index is None or axis != 1 or np.asarray(index).tolist() != 0:
            raise FusionError(
                f"{model_path.name}: the classifier reads the final hidden state through {reader.op_type} "
                "(not position 0 alone); set export.last_layer_cls_only=false"
            )
    if not readers:
        raise FusionError(f"{model_path.name}: nothing reads the final hidden state {hidden}")


def unfuse_skip_layer_norm(model_path: Path, target: Path | None = None) -> int:
    """Write every SkipLayerNormalization of the graph as Add (input + skip), Add (+ bias) and LayerNormalization;
    returns how many were rewritten. Saved to `target` (default: in place).

    Same arithmetic, fewer microseconds: on a short sentence onnxruntime's CPU SkipLayerNormalization kernel is
    slower than the Add and LayerNormalization kernels that compute the same (the per-op profile in
    bench/results/core_options.md). The predictor's sessions skip onnxruntime's SkipLayerNormFusion
    (predictor.DISABLED_OPTIMIZERS), which would fuse them back. Refuses (FusionError) a node whose mean or
    inverse-variance output is read.
    """
    model = onnx.load(str(model_path))
    graph = model.graph
    read = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    rewritten: list[onnx.NodeProto] = []
    count = 0
    for node in graph.node:
        if node.op_type != "SkipLayerNormalization":
            rewritten.append(node)
            continue
        if any(name and name in read for name in node.output[1:3]):
            raise FusionError(f"{node.name}: its mean or inverse variance is read; not rewritten")
        inputs = [*node.input, "", "", ""][:5]
        epsilon = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "epsilon"), 1e-12)
        total = node.output[3] if len(node.output) > 3 and node.output[3] else f"{node.name}_sum"
        residual = f"{node.name}_residual" if inputs[4] else total
        rewritten.append(helper.make_node("Add", inputs[:2], [residual], name=f"{node.name}_Add"))
        if inputs[4]:
            rewritten.append(helper.make_node("Add", [residual, inputs[4]], [total], name=f"{node.name}_AddBias"))
        norm_inputs = [total, inputs[2], *([inputs[3]] if inputs[3] else [])]
        rewritten.append(
            helper.make_node(
                "LayerNormalization", norm_inputs, [node.output[0]], name=f"{node.name}_Norm", axis=-1, epsilon=epsilon
            )
        )
        count += 1
    del graph.node[:]
    graph.node.extend(rewritten)
    onnx.checker.check_model(model)
    onnx.save(model, str(target or model_path))
    return count
