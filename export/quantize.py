"""int8 dynamic quantization with onnxruntime, with the knobs large encoders need."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

KEEPABLE_OPS = ("MatMul", "Attention")
"""Op types `keep_fp32` can leave in fp32: the weight matrices (Attention is the fused QKV projection)."""


def matching_matmuls(model_path: Path, patterns: list[str]) -> list[str]:
    """Names of the MatMul (and fused Attention) nodes whose name matches any of the regular expressions (those
    stay in fp32)."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [
        node.name
        for node in graph.node
        if node.op_type in KEEPABLE_OPS and any(re.search(pattern, node.name) for pattern in patterns)
    ]


def quantize(
    source: Path,
    target: Path,
    per_channel: bool = False,
    keep_fp32: list[str] | None = None,
    reduce_range: bool = False,
    weight_type: str = "QInt8",
) -> list[str]:
    """Quantize weights to int8 (activations quantized on the fly), leaving the MatMuls that match `keep_fp32`
    (regular expressions over node names) in fp32; returns those nodes' names. `reduce_range` stores weights in
    7 bits, which keeps u8 x s8 products clear of the int16 saturation of AVX2 kernels without VNNI; `weight_type`
    names a QuantType (QInt8 or QUInt8)."""
    excluded = matching_matmuls(source, keep_fp32) if keep_fp32 else []
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)  # the quantizer logs one INFO line per tensor on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType[weight_type],
            per_channel=per_channel,
            reduce_range=reduce_range,
            nodes_to_exclude=excluded,
            # Fused contrib ops (SkipLayerNormalization, ...) have no ONNX shape inference: their outputs are fp32.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
    return excluded
