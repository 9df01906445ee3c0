"""int8 dynamic quantization with onnxruntime, with the knobs large encoders need."""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic


def ffn_output_matmuls(model_path: Path) -> list[str]:
    """Names of the feed-forward output MatMuls (…/output/dense/MatMul, not attention's), which are the most
    sensitive to int8 in MPNet-sized encoders."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and "/output/dense/" in node.name and "/attention/" not in node.name
    ]


def quantize(source: Path, target: Path, per_channel: bool = False, exclude_ffn_output: bool = False) -> list[str]:
    """Quantize weights to int8 (activations quantized on the fly); returns the nodes left in fp32."""
    excluded = ffn_output_matmuls(source) if exclude_ffn_output else []
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)  # the quantizer logs one INFO line per tensor on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            nodes_to_exclude=excluded,
        )
    finally:
        root.setLevel(level)
    return excluded
