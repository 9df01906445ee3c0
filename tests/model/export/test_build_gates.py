"""`make export` gates: a failed fp32 gate (a broken export) raises with the report and leaves no bundle and no
staging directory behind, and an existing bundle survives it untouched. A failed int8 gate does not stop the main
job: the bundle ships without the int8 model and serves fp32, and says so. A teacher bundle is fp32-only."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chalice_app.chalicelib.api.predictor import Predictor
from export.build import build_bundle
from export.parity import ExportGateError
from tests.conftest import ROOT
from tests.support.bundle_fixtures import SmokeExport, smoke_config

FAILING_GATE = "export.gates.fp32_max_abs_logit_diff=-1"  # an absolute difference is never below -1
FAILING_INT8_GATE = "export.gates.int8_min_agreement=1.01"  # agreement is never above 1


@pytest.fixture
def small_dev_set(tmp_path: Path) -> str:
    """The first 16 dev sentences: the gates are checked on fewer rows, so a failing export is quick."""
    from tests.conftest import ROOT

    lines = (ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "dev16.tsv"
    path.write_text("\n".join(lines[:16]) + "\n", encoding="utf-8")
    return f"data.validation_file={path}"


def snapshot(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_failing_gate_raises_with_the_report_and_leaves_nothing(
    smoke_export: SmokeExport, small_dev_set: str, tmp_path: Path
) -> None:
    parent = tmp_path / "bundles"
    target = parent / "smoke-minilm"
    with pytest.raises(ExportGateError) as failure:
        build_bundle(smoke_export.config(FAILING_GATE, small_dev_set, bundle_dir=target))
    message = str(failure.value)
    assert message.startswith("export gates failed:")
    assert "fp32 ONNX vs torch: max |logit diff|" in message
    assert "> -1e+00" in message
    assert not target.exists()
    assert list(parent.iterdir()) == []  # no staging directory either


def test_existing_bundle_survives_a_failed_export_untouched(
    smoke_export: SmokeExport, smoke_bundle: Path, small_dev_set: str, tmp_path: Path
) -> None:
    target = Path(shutil.copytree(smoke_bundle, tmp_path / "bundles" / "smoke-minilm"))
    before = snapshot(target)
    with pytest.raises(ExportGateError):
        build_bundle(smoke_export.config(FAILING_GATE, small_dev_set, bundle_dir=target))
    assert snapshot(target) == before
    assert [p.name for p in target.parent.iterdir()] == ["smoke-minilm"]


@pytest.mark.parametrize("missing", ["metrics.json", "model/config.json"])
def test_export_of_an_unfinished_run_asks_for_make_train(
    smoke_export: SmokeExport, tmp_path: Path, missing: str
) -> None:
    run = Path(shutil.copytree(smoke_export.run_dir, tmp_path / "run", ignore=shutil.ignore_patterns("checkpoints")))
    (run / missing).unlink()
    target = tmp_path / "bundles" / "smoke-minilm"
    with pytest.raises(FileNotFoundError, match=r"is not a finished training run .* run make train"):
        build_bundle(smoke_config(run, target))
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_export_from_a_directory_that_is_not_a_run_asks_for_make_train(tmp_path: Path) -> None:
    not_a_run = tmp_path / "somewhere"
    not_a_run.mkdir()
    with pytest.raises(FileNotFoundError, match=r"make train"):
        build_bundle(smoke_config(not_a_run, tmp_path / "bundle"))
    assert not (tmp_path / "bundle").exists()


def test_a_failed_int8_gate_ships_and_serves_the_fp32_model_and_says_why(
    smoke_export: SmokeExport, small_dev_set: str, tmp_path: Path
) -> None:
    target = tmp_path / "bundles" / "smoke-minilm"
    manifest = build_bundle(smoke_export.config(FAILING_INT8_GATE, small_dev_set, bundle_dir=target))
    assert {p.name for p in target.iterdir()} == {"model.onnx", "tokenizer.json", "manifest.json"}
    serving = manifest["serving"]
    assert serving["model_file"] == "model.onnx"
    assert serving["precision"] == "fp32"
    assert serving["reason"].startswith("int8 failed its gates: int8 vs fp32: prediction agreement")
    assert serving["session_batch"] == {"model.onnx": 0}
    gate = manifest["parity"]["int8_gate"]
    assert gate["passed"] is False
    assert gate["failures"] == [serving["reason"].removeprefix("int8 failed its gates: ")]
    # The minilm preset's fallback (8-bit weights) was built and gated too before fp32 was chosen.
    first, fallback = gate["attempts"]
    assert (first["settings"]["reduce_range"], fallback["settings"]["reduce_range"]) == (True, False)
    assert first["settings"]["keep_fp32"] == fallback["settings"]["keep_fp32"] == []
    assert fallback["failures"] == gate["failures"]
    assert first["failures"]
    assert manifest["onnx"]["int8"] == fallback["settings"]  # the section describes the last model gated
    assert manifest["parity"]["int8_vs_fp32"]["prediction_agreement"] <= 1.0  # the figures stay on record
    predictor = Predictor(target)  # the runtime follows the manifest: fp32, hashes verified
    assert predictor.model_file == "model.onnx"
    assert predictor.predict(["The cat sat on the mat."])[0].label in manifest["labels"]


def test_the_export_command_finishes_with_a_warning_when_int8_fails(
    smoke_export: SmokeExport, small_dev_set: str, tmp_path: Path
) -> None:
    """What `make all` runs: exit 0 (the main job goes on to serve), the figures and the fallback printed."""
    target = tmp_path / "bundle"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "export.build",
            "debug=smoke",
            "logger=none",
            f"paths.root={ROOT}",
            f"paths.pretrained_cache={ROOT / 'artifacts' / 'pretrained'}",
            f"export.run_dir={smoke_export.run_dir}",
            f"export.bundle_dir={target}",
            f"hydra.run.dir={tmp_path / 'hydra'}",
            FAILING_INT8_GATE,
            small_dev_set,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "serves model.onnx (fp32): int8 failed its gates" in done.stdout
    assert "WARNING: the int8 model failed its gates" in done.stdout
    first_attempt = "int8 attempt 1 (reduce_range=True, fp32 MatMuls: none) failed: int8 vs fp32: prediction agreement"
    assert first_attempt in done.stdout
    assert json.loads((target / "manifest.json").read_text())["serving"]["precision"] == "fp32"


def test_a_bundle_without_int8_is_fp32_only(smoke_export: SmokeExport, small_dev_set: str, tmp_path: Path) -> None:
    """The teacher's export (conf/export/mpnet.yaml: quantization.int8=false): no int8 model built or gated."""
    target = tmp_path / "bundles" / "teacher"
    manifest = build_bundle(smoke_export.config("export.quantization.int8=false", small_dev_set, bundle_dir=target))
    assert {p.name for p in target.iterdir()} == {"model.onnx", "tokenizer.json", "manifest.json"}
    assert manifest["serving"]["model_file"] == "model.onnx"
    assert manifest["serving"]["reason"] == "no int8 model built (export.quantization.int8=false)"
    assert manifest["parity"]["int8_vs_fp32"] is None
    assert manifest["parity"]["int8_gate"] is None
    assert manifest["onnx"]["int8"] is None
    assert manifest["parity"]["fp32_vs_torch"]["prediction_agreement"] == 1.0  # the fp32 gate still holds


def test_the_teacher_preset_exports_fp32_only(compose_config) -> None:  # type: ignore[no-untyped-def]
    assert compose_config("model=mpnet", config_name="export").export.quantization.int8 is False
    assert compose_config("model=minilm", config_name="export").export.quantization.int8 is True
