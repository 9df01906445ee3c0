"""bench.int8_paths without a real model: the fp32/int8 comparison, merged runs, refused settings.

The emulated AVX2 path costs minutes per model: its refusal without qemu is checked instead. The native run on the
session's smoke bundle is in tests/model/bench/test_int8_paths.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench import int8_paths
from bench.int8_paths import compare, main


def test_compare_counts_agreement_and_mcc_drop() -> None:
    fp32 = np.array([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [2.0, 0.0]])
    int8 = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 0.0]])  # one flip, now wrong
    result = compare(fp32, int8, [0, 1, 1, 0])
    assert result["agreement"] == 0.75
    assert result["fp32_mcc"] == 1.0
    assert result["mcc_drop"] == pytest.approx(1.0 - result["int8_mcc"], abs=1e-4)
    assert result["max_abs_logit_diff"] == 2.0


def test_the_emulated_path_without_qemu_says_what_to_install(
    smoke_bundle_dir_stub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="apt-get install qemu-user-static"):
        int8_paths.run_path("avx2", [], smoke_bundle_dir_stub, smoke_bundle_dir_stub / "out.npz")


@pytest.fixture
def smoke_bundle_dir_stub(tmp_path: Path) -> Path:
    (tmp_path / "manifest.json").write_text(json.dumps({"tokenizer": {"pad_id": 0, "max_length": 64}}))
    return tmp_path


def test_unknown_settings_are_refused_with_the_choices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(SystemExit):
        main(["--bundle", f"b={tmp_path}", "--settings", "fp4"])
    assert "unknown setting ['fp4']: choose from s8 per-channel" in capsys.readouterr().err


def test_appended_runs_replace_rows_of_the_same_bundle_path_and_setting() -> None:
    def row(path: str, agreement: float) -> dict[str, object]:
        return {"bundle": "b", "path": path, "setting": "s8 per-channel", "agreement": agreement}

    old = {"commands": ["first"], "rows": [row("native", 0.97), row("avx2", 0.95)], "cpu_features_seen": {"a": []}}
    new = {
        "commands": ["second"],
        "machine": {},
        "bundles": {},
        "settings": {},
        "cpu_features_seen": {"native": ["AVX2"]},
        "rows": [row("native", 0.98)],
    }
    merged = int8_paths.merge(old, new)
    assert merged["commands"] == ["first", "second"]
    assert merged["rows"] == [row("avx2", 0.95), row("native", 0.98)]
    assert merged["cpu_features_seen"] == {"a": [], "native": ["AVX2"]}
