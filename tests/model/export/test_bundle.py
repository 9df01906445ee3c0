"""The model bundle that `make export` writes: its files, manifest, ONNX graphs, parity record and reference data.

The tests read the bundle built once per session from a real smoke training run (tests/support/bundle_fixtures.py).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from chalice_app.chalicelib.contract.manifest import SCHEMA_VERSION, model_version, verify_bundle
from export.parity import Gates
from tests.support.bundle_fixtures import SmokeExport
from tests.support.labels import LABELS

DEV_SENTENCES = 527  # data/cola/raw/in_domain_dev.tsv: parity and the reference use the whole dev set
MODEL_FILES = ("model.onnx", "model.int8.onnx")
BUNDLE_FILES = {"model.onnx", "model.int8.onnx", "tokenizer.json", "manifest.json"}


@pytest.fixture(scope="module")
def manifest(smoke_bundle: Path) -> dict[str, Any]:
    return json.loads((smoke_bundle / "manifest.json").read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TestFilesAndManifest:
    def test_bundle_holds_the_two_models_the_tokenizer_and_the_manifest(self, smoke_bundle: Path) -> None:
        assert {p.name for p in smoke_bundle.iterdir()} == BUNDLE_FILES

    def test_manifest_names_every_other_file_with_its_sha256_and_size(
        self, smoke_bundle: Path, manifest: dict[str, Any]
    ) -> None:
        assert set(manifest["files"]) == BUNDLE_FILES - {"manifest.json"}
        for name, entry in manifest["files"].items():
            path = smoke_bundle / name
            assert entry == {"sha256": sha256(path), "bytes": path.stat().st_size}, name

    def test_model_version_is_derived_from_the_file_hashes(self, manifest: dict[str, Any]) -> None:
        hashes = {name: entry["sha256"] for name, entry in manifest["files"].items()}
        assert manifest["model_version"] == model_version(hashes)
        assert manifest["model_version"].startswith("m-")

    def test_bundle_verifies(self, smoke_bundle: Path, manifest: dict[str, Any]) -> None:
        assert verify_bundle(smoke_bundle) == manifest

    def test_manifest_describes_schema_labels_tokenizer_and_serving_model(self, manifest: dict[str, Any]) -> None:
        assert manifest["schema_version"] == SCHEMA_VERSION
        assert manifest["labels"] == list(LABELS)
        assert manifest["model_name"] == "minilm"
        assert manifest["run_name"] == "smoke-minilm"
        assert manifest["serving"] == {
            "model_file": "model.int8.onnx",
            "precision": "int8",
            "reason": "int8 passed its gates",
            "session_batch": {"model.onnx": 0, "model.int8.onnx": 1},  # int8: one sentence per call
        }
        assert manifest["tokenizer"] == {"max_length": 64, "pad_id": 0, "unk_id": 100}  # BERT uncased vocabulary
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created_at"])

    def test_libraries_record_the_exporting_environment(self, manifest: dict[str, Any]) -> None:
        libraries = manifest["libraries"]
        assert {"torch", "onnxruntime", "tokenizers", "onnx", "numpy"} <= set(libraries)
        for name, version in libraries.items():
            assert version == importlib.metadata.version(name)

    def test_training_section_comes_from_the_run(self, smoke_export: SmokeExport, manifest: dict[str, Any]) -> None:
        run = json.loads((smoke_export.run_dir / "metrics.json").read_text())
        training = manifest["training"]
        assert training["best"] == run["best"]
        assert training["data"] == run["data"]
        assert training["encoder"] == run["model"]
        assert set(training["eval"]) == {"validation"}
        assert "confusion_matrix" not in training["eval"]["validation"]
        assert training["eval"]["validation"]["mcc"] == run["eval"]["validation"]["mcc"]
        assert manifest["source_config"] == run["config"]

    def test_machine_section_names_where_it_was_trained_and_exported(
        self, smoke_export: SmokeExport, manifest: dict[str, Any]
    ) -> None:
        run = json.loads((smoke_export.run_dir / "metrics.json").read_text())
        machine = manifest["machine"]
        assert machine["training"] == run["machine"]
        for description in machine.values():
            assert description["cpu"]["logical_cpus"] >= 1
            assert re.fullmatch(r"fp-[0-9a-f]{12}", description["fingerprint"])
            assert description["libraries"]["onnxruntime"] == importlib.metadata.version("onnxruntime")
        assert machine["training"]["torch"]["cpu_capability"]  # e.g. AVX512, AVX2: the kernels torch trained with
        assert machine["export"]["onnxruntime"]["providers"]
        assert machine["export"]["settings"]["onnxruntime_intra_op_threads"] >= 1  # what the parity ran with


class TestOnnxModels:
    @pytest.mark.parametrize("name", MODEL_FILES)
    def test_inputs_have_dynamic_batch_and_sequence_axes(self, smoke_bundle: Path, name: str) -> None:
        import onnx

        graph = onnx.load(str(smoke_bundle / name)).graph
        inputs = {i.name: i.type.tensor_type for i in graph.input}
        assert set(inputs) == {"input_ids", "attention_mask"}
        for input_name, tensor in inputs.items():
            assert tensor.elem_type == onnx.TensorProto.INT64, input_name
            batch, sequence = tensor.shape.dim
            assert batch.dim_param, f"{input_name}: batch axis is fixed to {batch.dim_value}"
            assert sequence.dim_param, f"{input_name}: sequence axis is fixed to {sequence.dim_value}"
        (output,) = graph.output
        assert output.name == "logits"
        batch, classes = output.type.tensor_type.shape.dim
        assert batch.dim_param
        assert classes.dim_value == len(LABELS)

    @pytest.mark.parametrize("name", MODEL_FILES)
    def test_opset_is_at_least_17(self, smoke_bundle: Path, name: str) -> None:
        import onnx

        model = onnx.load(str(smoke_bundle / name), load_external_data=False)
        default_domain = {o.domain: o.version for o in model.opset_import}
        opset = default_domain.get("", default_domain.get("ai.onnx"))
        assert opset is not None
        assert opset >= 17

    def test_int8_model_is_much_smaller_than_fp32(self, manifest: dict[str, Any]) -> None:
        files = manifest["files"]
        assert files["model.int8.onnx"]["bytes"] < files["model.onnx"]["bytes"] / 2

    def test_onnx_section_records_the_quantization_settings_resolved(self, manifest: dict[str, Any]) -> None:
        # The minilm preset: fused BERT graph, per-channel 7-bit dynamic int8, nothing kept in fp32; interpolations
        # resolved to real values. Six layers: one Attention and one BiasGelu each, and their two
        # SkipLayerNormalization each written back as Add + LayerNormalization.
        assert manifest["onnx"] == {
            "opset": 17,
            "graph_fusion": {
                "model_type": "bert",
                "ops": {"Attention": 6, "BiasGelu": 6},
                "last_layer_cls_only": True,
                "unfused_skip_layer_norm": 12,
            },
            "int8": {"per_channel": True, "reduce_range": True, "keep_fp32": [], "fp32_nodes": 0},
        }

    def test_served_graphs_run_fused_kernels(self, smoke_bundle: Path) -> None:
        import onnx

        fp32 = Counter(n.op_type for n in onnx.load(str(smoke_bundle / "model.onnx")).graph.node)
        int8 = Counter(n.op_type for n in onnx.load(str(smoke_bundle / "model.int8.onnx")).graph.node)
        assert fp32["Attention"] == 6
        assert fp32["Softmax"] == 0
        assert int8["QAttention"] == 6  # the fused QKV projection runs in int8
        assert fp32["SkipLayerNormalization"] == int8["SkipLayerNormalization"] == 0  # unfused: faster on CPU
        assert fp32["LayerNormalization"] == int8["LayerNormalization"] == 13  # embeddings + two per layer
        assert int8["EmbedLayerNormalization"] == int8["QEmbedLayerNormalization"] == 0  # embeddings left unfused
        assert not [f for f in smoke_bundle.iterdir() if f.name.startswith(".")]  # the scratch export is gone

    @pytest.mark.parametrize("name", MODEL_FILES)
    def test_the_last_layer_after_attention_computes_the_cls_row_only(self, smoke_bundle: Path, name: str) -> None:
        import onnx

        slices = [n.name for n in onnx.load(str(smoke_bundle / name)).graph.node if n.op_type == "Slice"]
        assert sorted(s for s in slices if s.startswith("LastLayerCls_")) == [
            "LastLayerCls_attention",
            "LastLayerCls_residual",
        ]


class TestParityRecord:
    def test_parity_covers_the_whole_dev_set(self, manifest: dict[str, Any]) -> None:
        parity = manifest["parity"]
        assert parity["split"] == "validation"
        assert parity["n"] == DEV_SENTENCES

    def test_fp32_onnx_matches_torch(self, manifest: dict[str, Any]) -> None:
        fp32 = manifest["parity"]["fp32_vs_torch"]
        assert fp32["max_abs_logit_diff"] <= 1e-4
        assert fp32["prediction_agreement"] == 1.0
        assert fp32["candidate"] == pytest.approx(fp32["reference"], abs=1e-6)

    def test_int8_section_is_present_and_within_its_gates(self, manifest: dict[str, Any]) -> None:
        int8 = manifest["parity"]["int8_vs_fp32"]
        assert set(int8) == {"max_abs_logit_diff", "prediction_agreement", "reference", "candidate"}
        gate = manifest["parity"]["int8_gate"]
        assert (gate["passed"], gate["failures"]) == (True, [])
        # the base setting passed, so no fallback was built; the one attempt holds the figures above
        assert [(a["prediction_agreement"], a["mcc"]) for a in gate["attempts"]] == [
            (int8["prediction_agreement"], int8["candidate"]["mcc"])
        ]
        assert int8["prediction_agreement"] >= 0.97
        assert int8["reference"]["mcc"] - int8["candidate"]["mcc"] <= 0.02
        # int8's reference is the fp32 ONNX model, which is fp32_vs_torch's candidate
        assert int8["reference"] == manifest["parity"]["fp32_vs_torch"]["candidate"]

    def test_gates_applied_are_recorded(self, manifest: dict[str, Any]) -> None:
        assert manifest["parity"]["gates"] == vars(Gates())


class TestReferenceDistribution:
    def test_label_shares_sum_to_one(self, manifest: dict[str, Any]) -> None:
        reference = manifest["reference"]
        assert reference["split"] == "validation"
        assert reference["n"] == DEV_SENTENCES
        assert set(reference["label_share"]) == set(LABELS)
        assert sum(reference["label_share"].values()) == pytest.approx(1.0, abs=1e-3)  # each share is rounded

    def test_score_histogram_counts_every_sentence(self, manifest: dict[str, Any]) -> None:
        histogram = manifest["reference"]["score_histogram"]
        assert histogram["of"] == "P(acceptable)"
        assert histogram["bin_edges"] == [round(i / 10, 2) for i in range(11)]
        assert len(histogram["counts"]) == 10
        assert sum(histogram["counts"]) == DEV_SENTENCES

    def test_length_histogram_counts_every_sentence(self, manifest: dict[str, Any]) -> None:
        histogram = manifest["reference"]["n_tokens_histogram"]
        assert histogram["bin_edges"][0] == 0
        assert len(histogram["counts"]) == len(histogram["bin_edges"]) - 1
        assert sum(histogram["counts"]) == DEV_SENTENCES

    @pytest.mark.parametrize("field", ["n_tokens", "n_chars"])
    def test_length_summaries_are_ordered(self, manifest: dict[str, Any], field: str) -> None:
        stats = manifest["reference"][field]
        assert set(stats) == {"mean", "p50", "p90", "p99", "max"}
        assert 0 < stats["p50"] <= stats["p90"] <= stats["p99"] <= stats["max"]
        assert 0 < stats["mean"] <= stats["max"]

    def test_token_counts_respect_serving_truncation(self, manifest: dict[str, Any]) -> None:
        reference = manifest["reference"]
        assert reference["n_tokens"]["max"] <= 64 - 2  # [CLS] and [SEP] are not counted
        assert 0.0 <= reference["truncated_share"] <= 1.0
        assert 0.0 <= reference["unknown_token_rate_mean"] <= 1.0

    def test_reference_is_what_the_served_model_predicts_on_the_dev_set(
        self, smoke_bundle: Path, manifest: dict[str, Any]
    ) -> None:
        from chalice_app.chalicelib.api.predictor import Predictor
        from chalice_app.chalicelib.contract.drift_reference import reference_distribution
        from model_training.data.cola import read_cola_tsv
        from tests.conftest import ROOT

        sentences = [r.sentence for r in read_cola_tsv(ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv")]
        served = Predictor(smoke_bundle, model_file=manifest["serving"]["model_file"])
        assert (
            reference_distribution(served.predict(sentences), manifest["labels"], "validation") == manifest["reference"]
        )


def test_serving_tokenizer_truncates_to_64_and_does_not_pad(smoke_bundle: Path) -> None:
    tokenizer = json.loads((smoke_bundle / "tokenizer.json").read_text())
    assert tokenizer["truncation"]["max_length"] == 64
    assert tokenizer["padding"] is None
