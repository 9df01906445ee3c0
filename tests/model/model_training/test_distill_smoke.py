"""A real (tiny) distillation run: the smoke bundle teaches a MiniLM student; every output is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file

from model_training.data.cola import sha256_file
from model_training.distill import distill, engine_settings
from model_training.machine import has_bf16_matrix_units
from tests.conftest import ROOT
from tests.support.bundle_fixtures import SmokeExport
from tests.support.smoke_config import compose_smoke
from tests.support.wandb_offline import config_values


def distill_smoke(smoke_bundle: Path, base: Path, *overrides: str) -> tuple[Path, dict[str, Any]]:
    """A debug=smoke distillation run into base/run, taught by the session's smoke bundle."""
    out = base / "run"
    cfg = compose_smoke(
        "distill",
        out,
        f"distill.teacher.bundle={smoke_bundle}",
        f"distill.cache_dir={base / 'cache'}",
        "distill.transfer.copies_per_sentence=2",
        "distill.transfer.substitution.copies_per_sentence=1",
        "distill.transfer.wordnet_examples=32",
        *overrides,
        logger=True,
    )
    return out, distill(cfg)


@pytest.fixture(scope="module")
def distilled(smoke_export: SmokeExport, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    # The teacher run is the smoke export's own, whatever artifacts/runs holds on this machine.
    run_model = f"distill.teacher.run_model={smoke_export.run_dir / 'model'}"
    return distill_smoke(
        smoke_export.bundle_dir, tmp_path_factory.mktemp("distill"), "distill.student_init=null", run_model
    )


def test_run_writes_the_usual_outputs(distilled: tuple[Path, dict[str, Any]]) -> None:
    out, _ = distilled
    for name in ("metrics.json", "checkpoints/best.ckpt", "model/config.json", "confusion_matrix.png"):
        assert (out / name).is_file(), name


def test_metrics_record_the_teacher_and_the_transfer_set(
    distilled: tuple[Path, dict[str, Any]], smoke_bundle: Path
) -> None:
    out, result = distilled
    on_disk = json.loads((out / "metrics.json").read_text())
    section = on_disk["distillation"]
    teacher_manifest = json.loads((smoke_bundle / "manifest.json").read_text())
    assert section["teacher"]["model_version"] == teacher_manifest["model_version"]
    assert section["teacher"]["metrics"]["best"] == teacher_manifest["training"]["best"]
    assert (section["temperature"], section["alpha"]) == (3.0, 0.7)
    transfer = section["transfer"]
    assert transfer["sentences"] == 64
    assert 0 < transfer["substitution_copies"] <= 64 < transfer["copies"] <= 3 * 64
    assert transfer["substitution"] == {"copies_per_sentence": 1, "top_k": 10, "probability": 0.3}
    assert transfer["wordnet_examples"] == 32
    assert 0.0 <= transfer["wordnet_acceptable_share"] <= 1.0
    assert section["teacher_logits"]["n"] == transfer["sentences"] + transfer["copies"] + transfer["wordnet_examples"]
    assert result["run_name"] == "smoke-distilled-minilm"


def test_the_logits_engine_is_bf16_on_an_amx_cpu_and_checked_against_the_bundle(
    distilled: tuple[Path, dict[str, Any]],
) -> None:
    _, result = distilled
    logits = result["distillation"]["teacher_logits"]
    assert result["distillation"]["feature_weight"] == 0  # the recipe: logits only
    assert result["distillation"]["teacher_features"] is None
    if has_bf16_matrix_units():
        assert logits["engine"] == "torch_bf16"
        assert logits["parity"]["agreement"] >= logits["parity"]["allowed"]["min_agreement"]
    else:
        assert logits["engine"] == "onnx"
        assert "parity" not in logits


def test_the_teacher_run_defaults_to_the_one_the_bundle_names(smoke_export: SmokeExport, tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "distill",
            overrides=[
                f"paths.root={ROOT}",
                f"distill.teacher.bundle={smoke_export.bundle_dir}",
                f"distill.runs_dir={tmp_path}",
            ],
        )
    run_name = json.loads((smoke_export.bundle_dir / "manifest.json").read_text())["run_name"]

    assert engine_settings(cfg).model_dir == tmp_path / run_name / "model"
    assert engine_settings(cfg).engine == "auto"


def test_soft_and_gold_loss_parts_are_logged(distilled: tuple[Path, dict[str, Any]]) -> None:
    _, result = distilled
    last = result["history"][-1]
    assert {"train/loss_soft", "train/loss_hard"} <= set(last)


def test_the_wandb_run_links_to_the_teacher(distilled: tuple[Path, dict[str, Any]], smoke_bundle: Path) -> None:
    out, _ = distilled
    (run_file,) = (out / "wandb").glob("offline-run-*/run-*.wandb")
    teacher = config_values(run_file)["teacher"]
    teacher_manifest = json.loads((smoke_bundle / "manifest.json").read_text())
    assert isinstance(teacher, dict)
    assert teacher["model_version"] == teacher_manifest["model_version"]
    assert teacher["encoder"] == teacher_manifest["model_name"]


def test_the_students_bundle_passes_the_gates_and_names_its_teacher(
    distilled: tuple[Path, dict[str, Any]], smoke_bundle: Path, tmp_path: Path
) -> None:
    from export.build import build_bundle
    from tests.support.bundle_fixtures import smoke_config

    out, _ = distilled
    manifest = build_bundle(smoke_config(out, tmp_path / "student-bundle"))  # raises if a parity gate fails
    teacher_manifest = json.loads((smoke_bundle / "manifest.json").read_text())
    distillation = manifest["training"]["distillation"]
    assert distillation["teacher"]["model_version"] == teacher_manifest["model_version"]
    assert distillation["teacher"]["metrics"]["eval"]["validation"]["mcc"] == pytest.approx(
        teacher_manifest["training"]["eval"]["validation"]["mcc"]
    )
    assert manifest["model_version"] != teacher_manifest["model_version"]


def test_a_student_started_from_a_run_begins_with_that_runs_weights(
    smoke_bundle: Path, smoke_export: SmokeExport, tmp_path: Path
) -> None:
    """With a vanishing learning rate the student ends where it began: the init run's encoder and classifier head
    (a student from the pretrained encoder would carry a freshly initialised head instead)."""
    init = smoke_export.run_dir
    out, result = distill_smoke(
        smoke_bundle,
        tmp_path,
        f"distill.runs_dir={init.parent}",
        f"distill.student_init={init.name}",
        "training.lr=1e-12",
        "logger=none",
    )
    started = load_file(str(init / "model" / "model.safetensors"))
    ended = load_file(str(out / "model" / "model.safetensors"))
    assert started.keys() == ended.keys()
    for name in ("classifier.weight", "classifier.bias", "bert.encoder.layer.5.output.dense.weight"):
        torch.testing.assert_close(ended[name], started[name], rtol=0, atol=1e-6)
    record = result["distillation"]["student_init"]
    assert record["run_name"] == init.name
    assert record["weights_sha256"] == sha256_file(init / "model" / "model.safetensors")


def test_a_student_from_the_pretrained_encoder_records_no_init_run(distilled: tuple[Path, dict[str, Any]]) -> None:
    _, result = distilled
    assert result["distillation"]["student_init"] is None


def test_feature_distillation_trains_a_projection_that_the_saved_student_leaves_out(
    smoke_bundle: Path, smoke_export: SmokeExport, tmp_path: Path
) -> None:
    """With feature_weight > 0 the student also matches the teacher's classifier-head features through a projection
    to the teacher's width: trained, logged, recorded, and absent from the saved model and its export."""
    from transformers import AutoConfig

    teacher_width = AutoConfig.from_pretrained(smoke_export.run_dir / "model").hidden_size
    out, result = distill_smoke(
        smoke_bundle,
        tmp_path,
        f"distill.teacher.run_model={smoke_export.run_dir / 'model'}",
        "distill.feature_weight=1.0",
        "logger=none",
    )
    section = result["distillation"]
    assert section["feature_weight"] == 1.0
    assert section["teacher_features"]["size"] == teacher_width
    assert section["teacher_features"]["variance"] > 0
    assert section["teacher_logits"]["engine"] in ("torch_bf16", "torch_fp32")
    first, last = (epoch["train/loss_features"] for epoch in (result["history"][0], result["history"][-1]))
    assert last < first  # the projection and the student learn to match

    saved = load_file(str(out / "model" / "model.safetensors"))
    assert not any("projection" in name for name in saved)
    checkpoint = torch.load(out / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    projection = checkpoint["state_dict"]["feature_projection.weight"]
    assert projection.shape == (teacher_width, saved["classifier.weight"].shape[1])
    assert checkpoint["hyper_parameters"]["teacher_features"] == section["teacher_features"]
