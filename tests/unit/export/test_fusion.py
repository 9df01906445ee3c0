"""Graph fusion: the refusals that keep a misconfigured export from passing as "fused", and which nodes
`keep_fp32` can hold back (the fused graphs themselves are checked on the smoke bundle in test_bundle.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from export.fusion import FusionError, fuse_graph, fused_op_counts
from export.quantize import matching_matmuls


def tiny_graph(path: Path, attention: bool = False) -> Path:
    """A one-MatMul graph (x @ W), with a com.microsoft Attention node beside it when `attention` is set."""
    weight = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="layer.0/output/dense/MatMul")]
    if attention:
        nodes.append(helper.make_node("Attention", ["x", "W"], ["z"], name="Attention_0", domain="com.microsoft"))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_an_unsupported_model_type_is_refused_with_the_setting_to_change(tmp_path: Path) -> None:
    with pytest.raises(FusionError, match=r"'gpt2' is not supported .*model.graph_fusion=null"):
        fuse_graph(tiny_graph(tmp_path / "m.onnx"), tmp_path / "fused.onnx", "gpt2", num_heads=1, hidden_size=4)
    assert not (tmp_path / "fused.onnx").exists()


def test_a_graph_without_attention_to_fuse_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    # What an SDPA export looks like to the optimizer: nothing it recognises as an attention block.
    with pytest.raises(FusionError, match=r"no attention block fused .*eager attention.*model.graph_fusion=null"):
        fuse_graph(tiny_graph(tmp_path / "m.onnx"), tmp_path / "fused.onnx", "bert", num_heads=1, hidden_size=4)
    assert not (tmp_path / "fused.onnx").exists()


def test_fused_op_counts_name_only_the_fused_ops_present(tmp_path: Path) -> None:
    assert fused_op_counts(tiny_graph(tmp_path / "m.onnx", attention=True)) == {"Attention": 1}
    assert fused_op_counts(tiny_graph(tmp_path / "plain.onnx")) == {}


def test_keep_fp32_patterns_reach_fused_attention_nodes_as_well_as_matmuls(tmp_path: Path) -> None:
    model = tiny_graph(tmp_path / "m.onnx", attention=True)
    assert matching_matmuls(model, [r"^Attention_0$"]) == ["Attention_0"]
    assert matching_matmuls(model, [r"output/dense/MatMul"]) == ["layer.0/output/dense/MatMul"]
    assert matching_matmuls(model, [r"nothing"]) == []
