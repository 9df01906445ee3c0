"""The torch-free predictor on a real bundle: well-formed predictions, input statistics for the logs,
batch/single consistency, model file choice, and refusal of missing or corrupt bundles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chalice_app.chalicelib.api.predictor import Prediction, Predictor
from chalice_app.chalicelib.contract.manifest import BundleError, verify_bundle
from tests.support.labels import LABELS

SENTENCES = [
    "The sailors rode the breeze clear of the rocks.",
    "The more you eat, the fatter you get.",
    "Bill seems to be that John left.",
    "Who did you see pictures of?",
    "Them left.",
]
LONG_TEXT = " ".join(["the cat that the dog chased ran up a tall tree"] * 20)  # about 220 word pieces
UNKNOWN_TEXT = "𓀀𓀁 ☃"


def assert_well_formed(prediction: Prediction, text: str) -> None:
    assert prediction.label in LABELS
    assert set(prediction.probabilities) == set(LABELS)
    assert prediction.score == prediction.probabilities[prediction.label]
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert prediction.score >= 0.5
    assert prediction.n_chars == len(text)
    assert 0 <= prediction.n_tokens <= 62
    assert 0.0 <= prediction.unknown_token_rate <= 1.0


class TestPredictions:
    def test_single_text(self, predictor: Predictor) -> None:
        (prediction,) = predictor.predict([SENTENCES[0]])
        assert_well_formed(prediction, SENTENCES[0])
        assert prediction.truncated is False
        assert prediction.n_tokens == 10  # word pieces without [CLS] and [SEP]

    def test_batch_gives_one_prediction_per_text_in_order(self, predictor: Predictor) -> None:
        predictions = predictor.predict(SENTENCES)
        assert len(predictions) == len(SENTENCES)
        for text, prediction in zip(SENTENCES, predictions, strict=True):
            assert_well_formed(prediction, text)

    def test_no_texts_no_predictions(self, predictor: Predictor) -> None:
        assert predictor.predict([]) == []

    def test_long_text_is_truncated_to_the_serving_length(self, predictor: Predictor) -> None:
        long, short = predictor.predict([LONG_TEXT, SENTENCES[1]])
        assert_well_formed(long, LONG_TEXT)
        assert long.truncated is True
        assert long.n_tokens == 62  # 64 with [CLS] and [SEP]
        assert short.truncated is False
        assert short.n_tokens < 62

    def test_empty_string_is_a_valid_input(self, predictor: Predictor) -> None:
        (prediction,) = predictor.predict([""])
        assert_well_formed(prediction, "")
        assert prediction.n_tokens == 0
        assert prediction.n_chars == 0
        assert prediction.truncated is False
        assert prediction.unknown_token_rate == 0.0

    def test_characters_unknown_to_the_vocabulary_are_counted(self, predictor: Predictor) -> None:
        assert "[UNK]" in predictor.tokenizer.encode(UNKNOWN_TEXT).tokens
        unknown, english = predictor.predict([UNKNOWN_TEXT, SENTENCES[0]])
        assert unknown.unknown_token_rate > 0
        assert english.unknown_token_rate == 0.0

    def test_unknown_token_rate_is_the_share_of_content_tokens(self, predictor: Predictor) -> None:
        text = "The cat ☃ sat."
        tokens = predictor.tokenizer.encode(text).tokens
        content = [t for t in tokens if t not in ("[CLS]", "[SEP]")]
        (prediction,) = predictor.predict([text])
        assert prediction.n_tokens == len(content)
        assert prediction.unknown_token_rate == pytest.approx(content.count("[UNK]") / len(content))

    def test_same_input_same_output(self, predictor: Predictor) -> None:
        assert predictor.predict(SENTENCES) == predictor.predict(SENTENCES)

    def test_fresh_predictors_agree(self, smoke_bundle: Path, predictor: Predictor) -> None:
        assert Predictor(smoke_bundle).predict(SENTENCES) == predictor.predict(SENTENCES)

    def test_int8_result_does_not_depend_on_the_rest_of_the_batch(self, predictor: Predictor) -> None:
        # Dynamic int8 scales activations over the whole input tensor, so the predictor runs it one sentence
        # per call: a sentence scores exactly the same alone, in any batch, at any position.
        texts = [*SENTENCES, LONG_TEXT, "", UNKNOWN_TEXT]
        assert predictor.session_batch == 1
        alone = [predictor.predict([text])[0] for text in texts]
        assert predictor.predict(texts) == alone
        assert predictor.predict(texts[::-1]) == alone[::-1]

    def test_a_per_sentence_model_runs_a_batch_side_by_side_with_identical_results(
        self, smoke_bundle: Path, predictor: Predictor
    ) -> None:
        texts = [*SENTENCES, LONG_TEXT, "", UNKNOWN_TEXT] * 3
        two = Predictor(smoke_bundle, threads=2)
        one = Predictor(smoke_bundle, threads=1)
        assert two.session_batch == 1
        alone = [one.predict([t])[0] for t in texts]
        assert [two.predict([t])[0] for t in texts] == alone  # a lone sentence: two intra-op threads
        assert two._batch_session is None  # nothing made for batches before the first one
        assert two.predict(texts) == one.predict(texts) == alone
        # the batch ran on a second, one-thread session, two calls at a time
        assert two._batch_session is not None
        assert two._batch_session.get_session_options().intra_op_num_threads == 1
        assert two.session.get_session_options().intra_op_num_threads == 2
        assert one._batch_session is None  # one thread: the calls run one after another in the caller

    def test_a_batched_model_uses_its_threads_inside_the_session(self, smoke_bundle: Path) -> None:
        fp32 = Predictor(smoke_bundle, model_file="model.onnx", threads=2)
        assert fp32.session_batch != 1
        assert fp32.session.get_session_options().intra_op_num_threads == 2
        fp32.predict([*SENTENCES, LONG_TEXT])
        assert fp32._batch_session is None  # one session call for the whole batch

    def test_batch_equals_one_by_one_with_the_fp32_model(self, fp32: Predictor) -> None:
        texts = [*SENTENCES, LONG_TEXT, "", UNKNOWN_TEXT]
        batch = fp32.predict(texts)
        alone = [fp32.predict([text])[0] for text in texts]
        for together, single in zip(batch, alone, strict=True):
            assert together.label == single.label
            np.testing.assert_allclose(
                [together.probabilities[n] for n in LABELS], [single.probabilities[n] for n in LABELS], atol=1e-5
            )
            assert (together.n_tokens, together.truncated, together.unknown_token_rate) == (
                single.n_tokens,
                single.truncated,
                single.unknown_token_rate,
            )

    def test_as_dict_is_json_ready(self, predictor: Predictor) -> None:
        (prediction,) = predictor.predict([SENTENCES[2]])
        data = prediction.as_dict()
        assert json.loads(json.dumps(data)) == data
        assert set(data) == {
            "label",
            "score",
            "probabilities",
            "n_chars",
            "n_tokens",
            "truncated",
            "unknown_token_rate",
        }


class TestModelFile:
    def test_default_is_the_manifest_serving_model(self, predictor: Predictor) -> None:
        assert predictor.model_file == predictor.manifest["serving"]["model_file"] == "model.int8.onnx"

    def test_model_file_can_be_switched(self, smoke_bundle: Path, predictor: Predictor, fp32: Predictor) -> None:
        assert fp32.model_file == "model.onnx"
        explicit = Predictor(smoke_bundle, model_file="model.int8.onnx")
        assert explicit.predict(SENTENCES) == predictor.predict(SENTENCES)
        int8 = [p.probabilities[LABELS[1]] for p in predictor.predict(SENTENCES)]
        full = [p.probabilities[LABELS[1]] for p in fp32.predict(SENTENCES)]
        assert int8 != full  # a different model really runs ...
        np.testing.assert_allclose(int8, full, atol=0.05)  # ... and stays close to fp32

    def test_unknown_model_file_names_the_available_files(self, smoke_bundle: Path) -> None:
        with pytest.raises(BundleError, match=r"'model.fp16.onnx' is not an ONNX model of the bundle") as failure:
            Predictor(smoke_bundle, model_file="model.fp16.onnx")
        for name in ("model.int8.onnx", "model.onnx", "tokenizer.json"):
            assert name in str(failure.value)

    def test_a_bundle_file_that_is_not_an_onnx_model_is_refused(self, smoke_bundle: Path) -> None:
        with pytest.raises(BundleError, match=r"'tokenizer.json' is not an ONNX model of the bundle"):
            Predictor(smoke_bundle, model_file="tokenizer.json")

    def test_model_version_is_the_manifests(self, smoke_bundle: Path, predictor: Predictor) -> None:
        manifest = json.loads((smoke_bundle / "manifest.json").read_text())
        assert predictor.model_version == manifest["model_version"]
        assert predictor.model_version.startswith("m-")

    def test_max_length_and_pad_id_come_from_the_manifest(self, predictor: Predictor) -> None:
        assert predictor.max_length == predictor.manifest["tokenizer"]["max_length"] == 64
        assert predictor.pad_id == predictor.manifest["tokenizer"]["pad_id"]


class TestBrokenBundles:
    def test_changed_model_byte_fails_the_sha256_check(self, bundle_copy: Path) -> None:
        model = bundle_copy / "model.int8.onnx"
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
        with pytest.raises(BundleError, match=r"model\.int8\.onnx: sha256 .* does not match the manifest"):
            Predictor(bundle_copy)

    def test_changed_fp32_model_fails_when_fp32_is_served(self, bundle_copy: Path) -> None:
        with (bundle_copy / "model.onnx").open("ab") as handle:
            handle.write(b"\0")
        with pytest.raises(BundleError, match=r"model\.onnx: sha256"):
            Predictor(bundle_copy, model_file="model.onnx")

    def test_a_slim_bundle_without_the_unserved_fp32_model_still_serves_int8(self, bundle_copy: Path) -> None:
        (bundle_copy / "model.onnx").unlink()
        assert Predictor(bundle_copy).predict(["It works."])[0].label in LABELS
        with pytest.raises(BundleError, match=r"file model\.onnx named in the manifest is missing"):
            Predictor(bundle_copy, model_file="model.onnx")

    def test_verify_bundle_checks_every_file_by_default(self, bundle_copy: Path) -> None:
        with (bundle_copy / "model.onnx").open("ab") as handle:
            handle.write(b"\0")
        with pytest.raises(BundleError, match=r"model\.onnx: sha256"):
            verify_bundle(bundle_copy)

    def test_missing_tokenizer(self, bundle_copy: Path) -> None:
        (bundle_copy / "tokenizer.json").unlink()
        with pytest.raises(BundleError, match=r"file tokenizer\.json named in the manifest is missing"):
            Predictor(bundle_copy)

    def test_missing_manifest(self, bundle_copy: Path) -> None:
        (bundle_copy / "manifest.json").unlink()
        with pytest.raises(BundleError, match=r"manifest\.json is missing.*make export"):
            Predictor(bundle_copy)

    def test_manifest_that_is_not_json(self, bundle_copy: Path) -> None:
        (bundle_copy / "manifest.json").write_text('{"schema_version": 1, "files": {')
        with pytest.raises(BundleError, match=r"manifest\.json is not valid JSON"):
            Predictor(bundle_copy)

    def test_manifest_without_a_files_table(self, bundle_copy: Path) -> None:
        (bundle_copy / "manifest.json").write_text(json.dumps({"schema_version": 1}))
        with pytest.raises(BundleError, match=r"no 'files' table"):
            Predictor(bundle_copy)

    def test_manifest_of_another_schema_version(self, bundle_copy: Path) -> None:
        path = bundle_copy / "manifest.json"
        manifest = json.loads(path.read_text())
        path.write_text(json.dumps({**manifest, "schema_version": 2}))
        with pytest.raises(BundleError, match=r"schema_version 2, this runtime reads 1"):
            Predictor(bundle_copy)

    def test_missing_directory_points_to_make_export(self, tmp_path: Path) -> None:
        with pytest.raises(BundleError, match=r"does not exist; run `make export`"):
            Predictor(tmp_path / "no-such-bundle")

    def test_edited_model_version(self, bundle_copy: Path) -> None:
        path = bundle_copy / "manifest.json"
        manifest = json.loads(path.read_text())
        path.write_text(json.dumps({**manifest, "model_version": "m-000000000000"}))
        with pytest.raises(BundleError, match=r"model_version 'm-000000000000' does not match its files"):
            Predictor(bundle_copy)

    def test_edited_file_hash_in_the_manifest(self, bundle_copy: Path) -> None:
        path = bundle_copy / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest["files"]["tokenizer.json"]["sha256"] = "0" * 64
        path.write_text(json.dumps(manifest))
        with pytest.raises(BundleError, match=r"tokenizer\.json: sha256 .* does not match"):
            Predictor(bundle_copy)
