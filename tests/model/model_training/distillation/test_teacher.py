"""Teacher logits: computed once from the teacher's bundle, cached with provenance, redone for a new teacher; the
teacher run's weights in bf16 stand in for the bundle only when they agree with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from chalice_app.chalicelib.api.predictor import Predictor, softmax
from chalice_app.chalicelib.contract.manifest import write_manifest
from model_training.distillation.teacher_engine import EngineSettings
from model_training.distillation.teacher_logits import load_or_compute, teacher_identity
from tests.support.bundle_fixtures import SmokeExport

SENTENCES = ["The cat sat on the mat.", "Cat the mat on sat the.", "John seems to be happy.", "Who did you see?"]


def test_logits_match_the_bundles_own_predictions(smoke_bundle: Path, tmp_path: Path) -> None:
    result = load_or_compute(smoke_bundle, "model.onnx", SENTENCES, tmp_path / "cache", batch_size=3)
    assert result.logits.shape == (len(SENTENCES), 2)
    served = Predictor(smoke_bundle, model_file="model.onnx").predict(SENTENCES)
    probs = softmax(result.logits.astype(np.float64))[:, 1]
    assert probs == pytest.approx([p.probabilities["acceptable"] for p in served], abs=1e-5)


def test_second_call_reads_the_cache_and_records_provenance(smoke_bundle: Path, tmp_path: Path) -> None:
    first = load_or_compute(smoke_bundle, "model.onnx", SENTENCES, tmp_path / "cache")
    second = load_or_compute(smoke_bundle, "model.onnx", SENTENCES, tmp_path / "cache")
    assert (first.provenance["cached"], second.provenance["cached"]) == (False, True)
    np.testing.assert_array_equal(first.logits, second.logits)
    manifest = json.loads((smoke_bundle / "manifest.json").read_text())
    assert second.provenance["model_version"] == manifest["model_version"]
    assert second.provenance["n"] == len(SENTENCES)


def test_another_teacher_invalidates_the_cache(bundle_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = load_or_compute(bundle_copy, "model.onnx", SENTENCES, cache)
    # A retrained teacher: other weights (here the int8 graph in the fp32 file's place), re-published with a new
    # content-derived version by the exporter's own manifest writer.
    shutil.copy(bundle_copy / "model.int8.onnx", bundle_copy / "model.onnx")
    content = json.loads((bundle_copy / "manifest.json").read_text())
    for derived in ("schema_version", "model_version", "files", "created_at"):
        content.pop(derived)
    republished = write_manifest(bundle_copy, content)
    assert republished["model_version"] != before.provenance["model_version"]
    after = load_or_compute(bundle_copy, "model.onnx", SENTENCES, cache)
    assert after.provenance["cached"] is False
    assert after.provenance["cache"] != before.provenance["cache"]
    assert len(list(cache.glob("*.npz"))) == 2


def test_other_sentences_are_not_served_from_the_cache(smoke_bundle: Path, tmp_path: Path) -> None:
    load_or_compute(smoke_bundle, "model.onnx", SENTENCES, tmp_path / "cache")
    other = load_or_compute(smoke_bundle, "model.onnx", [*SENTENCES, "One more."], tmp_path / "cache")
    assert other.provenance["cached"] is False
    assert other.logits.shape == (5, 2)


def test_a_corrupt_teacher_bundle_is_refused(bundle_copy: Path, tmp_path: Path) -> None:
    with (bundle_copy / "model.onnx").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00corrupt")
    with pytest.raises(Exception, match=r"sha256|hash"):
        load_or_compute(bundle_copy, "model.onnx", SENTENCES, tmp_path / "cache")


def test_a_missing_teacher_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make train MODEL=mpnet"):
        teacher_identity(tmp_path / "nowhere", "model.onnx")


def test_a_teacher_without_the_model_file_is_refused(bundle_copy: Path) -> None:
    with pytest.raises(ValueError, match=r"no 'model\.fp16\.onnx'"):
        teacher_identity(bundle_copy, "model.fp16.onnx")


def bf16(model_dir: Path, **tolerances: float) -> EngineSettings:
    return EngineSettings(engine="torch_bf16", model_dir=model_dir, parity_sentences=3, **tolerances)


def test_the_teacher_run_in_bf16_gives_the_bundles_logits_within_tolerance(
    smoke_export: SmokeExport, tmp_path: Path
) -> None:
    reference = load_or_compute(smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "onnx")
    fast = load_or_compute(
        smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "bf16", engine=bf16(smoke_export.run_dir / "model")
    )

    assert fast.provenance["engine"] == "torch_bf16"
    assert fast.provenance["parity"]["n"] == 3  # the sample, checked before the whole set is labelled
    assert fast.provenance["parity"]["agreement"] == 1.0
    assert not np.array_equal(fast.logits, reference.logits)  # bf16 arithmetic, not a copy of the bundle's
    np.testing.assert_allclose(fast.logits, reference.logits, atol=0.25)
    assert (fast.logits.argmax(1) == reference.logits.argmax(1)).all()
    assert "-torch_bf16-" in Path(fast.provenance["cache"]).name
    again = load_or_compute(
        smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "bf16", engine=bf16(smoke_export.run_dir / "model")
    )
    assert (again.provenance["cached"], again.provenance["engine"]) == (True, "torch_bf16")
    assert again.provenance["parity"] == fast.provenance["parity"]  # the check that admitted them, kept with them
    np.testing.assert_array_equal(again.logits, fast.logits)


def test_a_run_that_is_not_the_bundles_model_falls_back_to_the_bundle(
    smoke_export: SmokeExport, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    other = AutoModelForSequenceClassification.from_pretrained(smoke_export.run_dir / "model")
    with torch.no_grad():
        other.classifier.weight.mul_(-1.0)  # another model: its verdicts flip
    other.save_pretrained(tmp_path / "other")
    reference = load_or_compute(smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "onnx")

    result = load_or_compute(
        smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "c", engine=bf16(tmp_path / "other")
    )

    assert result.provenance["engine"] == "onnx"
    assert result.provenance["parity"]["agreement"] < 0.995
    np.testing.assert_array_equal(result.logits, reference.logits)
    assert "disagrees with its bundle" in caplog.text
    assert [p.name for p in (tmp_path / "c").glob("*.npz")] == [Path(reference.provenance["cache"]).name]


def test_the_bundles_cached_logits_serve_the_fast_engine_too(smoke_export: SmokeExport, tmp_path: Path) -> None:
    reference = load_or_compute(smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "cache")

    result = load_or_compute(
        smoke_export.bundle_dir,
        "model.onnx",
        SENTENCES,
        tmp_path / "cache",
        engine=bf16(smoke_export.run_dir / "model"),
    )

    assert (result.provenance["cached"], result.provenance["engine"]) == (True, "onnx")
    np.testing.assert_array_equal(result.logits, reference.logits)


def with_features(model_dir: Path, engine: str = "torch_fp32", **tolerances: float) -> EngineSettings:
    return EngineSettings(engine=engine, model_dir=model_dir, features=True, parity_sentences=3, **tolerances)


def test_features_are_the_input_of_the_teachers_output_layer_from_the_same_forward_as_its_logits(
    smoke_export: SmokeExport, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    run_model = smoke_export.run_dir / "model"
    result = load_or_compute(
        smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "c", engine=with_features(run_model)
    )
    logits_only = load_or_compute(
        smoke_export.bundle_dir,
        "model.onnx",
        SENTENCES,
        tmp_path / "l",
        engine=EngineSettings(engine="torch_fp32", model_dir=run_model, parity_sentences=3),
    )

    # Computed here another way: the smoke teacher is a BERT classifier, whose output layer reads the pooler.
    model = AutoModelForSequenceClassification.from_pretrained(run_model).eval()
    encoded = AutoTokenizer.from_pretrained(run_model)(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        pooled = model.bert(**encoded).pooler_output.numpy()
    assert result.features is not None
    assert result.features.shape == (len(SENTENCES), model.config.hidden_size)
    assert result.features.dtype == np.float16
    np.testing.assert_allclose(result.features.astype(np.float32), pooled, atol=2e-3)
    np.testing.assert_array_equal(result.logits, logits_only.logits)
    assert result.provenance["engine"] == "torch_fp32"
    assert "-torch_fp32-features-" in Path(result.provenance["cache"]).name


def test_cached_features_are_read_back_and_logits_alone_never_serve_a_features_request(
    smoke_export: SmokeExport, tmp_path: Path
) -> None:
    run_model = smoke_export.run_dir / "model"
    load_or_compute(smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "c")  # the bundle's logits, cached

    first = load_or_compute(
        smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "c", engine=with_features(run_model)
    )
    again = load_or_compute(
        smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "c", engine=with_features(run_model)
    )

    assert (first.provenance["cached"], again.provenance["cached"]) == (False, True)
    assert first.features is not None
    assert again.features is not None
    np.testing.assert_array_equal(again.features, first.features)
    assert again.provenance["parity"] == first.provenance["parity"]


def test_features_from_a_run_that_is_not_the_bundles_model_are_refused(
    smoke_export: SmokeExport, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    other = AutoModelForSequenceClassification.from_pretrained(smoke_export.run_dir / "model")
    with torch.no_grad():
        other.classifier.weight.mul_(-1.0)
    other.save_pretrained(tmp_path / "other")

    with pytest.raises(ValueError, match=r"features cannot be trusted.*make export MODEL=mpnet"):
        load_or_compute(
            smoke_export.bundle_dir, "model.onnx", SENTENCES, tmp_path / "c", engine=with_features(tmp_path / "other")
        )
    assert not list((tmp_path / "c").glob("*features*"))
