"""Graph fusion: the refusals that keep a misconfigured export from passing as "fused", and which nodes
`keep_fp32` can hold back (the fused graphs themselves are checked on the smoke bundle in test_bundle.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from export.fusion import FusionError, fuse_graph, fused_op_counts, last_layer_for_cls_only, unfuse_skip_layer_norm
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


def skip_norm_graph(path: Path, bias: bool = True, read_mean: bool = False) -> Path:
    """Two chained SkipLayerNormalization nodes over [batch, sequence, 8] (the first with a bias when `bias`), as
    the fused BERT layers have them; with `read_mean` the graph also outputs the first node's mean."""
    rng = np.random.default_rng(0)
    weights = {name: rng.normal(size=8).astype(np.float32) for name in ("g", "b", "bias", "g2", "b2")}
    first_inputs = ["x", "s", "g", "b", *(["bias"] if bias else [])]
    nodes = [
        helper.make_node(
            "SkipLayerNormalization", first_inputs, ["h", "mean"], name="Skip_0", domain="com.microsoft", epsilon=1e-6
        ),
        helper.make_node(
            "SkipLayerNormalization", ["h", "x", "g2", "b2"], ["y"], name="Skip_1", domain="com.microsoft"
        ),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "sequence", 8])]
    if read_mean:
        outputs.append(helper.make_tensor_value_info("mean", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "skip",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", "sequence", 8]) for n in ("x", "s")],
        outputs,
        initializer=[numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(path))
    return path


class TestUnfuseSkipLayerNorm:
    @pytest.mark.parametrize("bias", [True, False], ids=["with-bias", "without-bias"])
    def test_the_rewritten_graph_computes_the_same_outputs_with_standard_ops(self, tmp_path: Path, bias: bool) -> None:
        import onnxruntime as ort

        fused = skip_norm_graph(tmp_path / "fused.onnx", bias=bias)
        assert unfuse_skip_layer_norm(fused, tmp_path / "unfused.onnx") == 2
        ops = [n.op_type for n in onnx.load(str(tmp_path / "unfused.onnx")).graph.node]
        assert "SkipLayerNormalization" not in ops
        assert ops.count("LayerNormalization") == 2
        assert ops.count("Add") == (3 if bias else 2)
        feeds = {n: np.random.default_rng(1).normal(size=(2, 5, 8)).astype(np.float32) for n in ("x", "s")}
        (expected,) = ort.InferenceSession(str(fused), providers=["CPUExecutionProvider"]).run(["y"], feeds)
        (actual,) = ort.InferenceSession(str(tmp_path / "unfused.onnx"), providers=["CPUExecutionProvider"]).run(
            ["y"], feeds
        )
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)

    def test_the_epsilon_of_each_node_is_kept(self, tmp_path: Path) -> None:
        path = unfuse_skip_layer_norm_in_place(tmp_path)
        norms = {n.name: n for n in onnx.load(str(path)).graph.node if n.op_type == "LayerNormalization"}
        epsilon = {name: helper.get_attribute_value(n.attribute[1]) for name, n in norms.items()}
        assert epsilon == {"Skip_0_Norm": pytest.approx(1e-6), "Skip_1_Norm": pytest.approx(1e-12)}

    def test_the_predictors_session_does_not_fuse_them_back(self, tmp_path: Path) -> None:
        # What makes the rewrite pay: the predictor's session runs the standard kernels; onnxruntime's own
        # SkipLayerNormFusion would fuse Add + LayerNormalization back (Skip_1 here) if the predictor let it.
        from chalice_app.chalicelib.api.predictor import inference_session, session_options

        options = session_options(1)
        options.optimized_model_filepath = str(tmp_path / "as_loaded.onnx")
        inference_session(unfuse_skip_layer_norm_in_place(tmp_path), options)
        ops = [n.op_type for n in onnx.load(str(tmp_path / "as_loaded.onnx")).graph.node]
        assert "SkipLayerNormalization" not in ops
        assert ops.count("LayerNormalization") == 2

    def test_a_node_whose_mean_is_read_is_refused_and_the_file_left_alone(self, tmp_path: Path) -> None:
        path = skip_norm_graph(tmp_path / "m.onnx", read_mean=True)
        before = path.read_bytes()
        with pytest.raises(FusionError, match="Skip_0: its mean or inverse variance is read"):
            unfuse_skip_layer_norm(path)
        assert path.read_bytes() == before


def unfuse_skip_layer_norm_in_place(tmp_path: Path) -> Path:
    path = skip_norm_graph(tmp_path / "m.onnx")
    unfuse_skip_layer_norm(path)
    return path
