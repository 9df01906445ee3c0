"""Graph fusion: the refusals that keep a misconfigured export from passing as "fused", and which nodes
`keep_fp32` can hold back (the fused graphs themselves are checked on the smoke bundle in test_bundle.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from export.fusion import FusionError, fuse_graph, fused_op_counts, last_layer_for_cls_only
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
    with pytest.raises(FusionError, match=r"'gpt2' is not supported .*export.graph_fusion=null"):
        fuse_graph(tiny_graph(tmp_path / "m.onnx"), tmp_path / "fused.onnx", "gpt2", num_heads=1, hidden_size=4)
    assert not (tmp_path / "fused.onnx").exists()


def test_a_graph_without_attention_to_fuse_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    # What an SDPA export looks like to the optimizer: nothing it recognises as an attention block.
    with pytest.raises(FusionError, match=r"no attention block fused .*eager attention.*export.graph_fusion=null"):
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


def fused_layer_graph(path: Path, head_index: int = 0, head_axis: int = 1) -> Path:
    """The shape of a fused BERT last layer and its head: Attention → MatMul → SkipLayerNormalization (residual:
    the attention's input) → Gather(axis, index) → output."""
    w = numpy_helper.from_array(np.eye(4, dtype=np.float32), "W")
    index = numpy_helper.from_array(np.array(head_index, dtype=np.int64), "head_index")
    nodes = [
        helper.make_node("Attention", ["h", "W"], ["a"], name="Attention_5", domain="com.microsoft"),
        helper.make_node("MatMul", ["a", "W"], ["p"], name="layer.5/attention/output/dense/MatMul"),
        helper.make_node("SkipLayerNormalization", ["p", "h", "g", "b"], ["out"], name="Skip", domain="com.microsoft"),
        helper.make_node("Gather", ["out", "head_index"], ["pooled"], name="pooler/Gather", axis=head_axis),
    ]
    graph = helper.make_graph(
        nodes,
        "layer",
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, ["batch", "sequence", 4])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", 4])],
        initializer=[
            w,
            index,
            numpy_helper.from_array(np.ones(4, np.float32), "g"),
            numpy_helper.from_array(np.zeros(4, np.float32), "b"),
        ],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(path))
    return path


class TestLastLayerForClsOnly:
    def test_attention_output_and_residual_are_cut_to_position_zero(self, tmp_path: Path) -> None:
        path = fused_layer_graph(tmp_path / "m.onnx")
        assert last_layer_for_cls_only(path) == {"layer_attention": "Attention_5"}
        nodes = {n.name: n for n in onnx.load(str(path)).graph.node}
        cut_attention, cut_residual = nodes["LastLayerCls_attention"], nodes["LastLayerCls_residual"]
        assert (cut_attention.input[0], cut_residual.input[0]) == ("a", "h")
        assert nodes["layer.5/attention/output/dense/MatMul"].input[0] == cut_attention.output[0]
        assert nodes["Skip"].input[1] == cut_residual.output[0]
        assert nodes["Attention_5"].input[0] == "h"  # the attention still reads every position

    def test_a_graph_cut_once_is_not_cut_again(self, tmp_path: Path) -> None:
        path = fused_layer_graph(tmp_path / "m.onnx")
        last_layer_for_cls_only(path)
        with pytest.raises(FusionError, match="feeds Slice, not one MatMul"):
            last_layer_for_cls_only(path)

    @pytest.mark.parametrize(("index", "axis"), [(1, 1), (0, 0)], ids=["another-position", "another-axis"])
    def test_a_head_that_reads_more_than_position_zero_is_refused(self, tmp_path: Path, index: int, axis: int) -> None:
        path = fused_layer_graph(tmp_path / "m.onnx", head_index=index, head_axis=axis)
        before = path.read_bytes()
        with pytest.raises(FusionError, match=r"not position 0 alone.*export.last_layer_cls_only=false"):
            last_layer_for_cls_only(path)
        assert path.read_bytes() == before

    def test_an_unfused_graph_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(FusionError, match="no fused Attention node"):
            last_layer_for_cls_only(tiny_graph(tmp_path / "m.onnx"))
