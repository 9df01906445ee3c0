"""`make export` is all or nothing: a failed gate raises with the report and leaves no bundle and no staging
directory behind, and an existing bundle survives a failed export untouched."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from export.build import build_bundle
from export.parity import ExportGateError
from tests.bundle_fixtures import SmokeExport, smoke_config

pytestmark = pytest.mark.slow

FAILING_GATE = "export.gates.fp32_max_abs_logit_diff=-1"  # an absolute difference is never below -1


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
