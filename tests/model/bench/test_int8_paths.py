"""bench.int8_paths on the session's real smoke bundle: the native path runs and writes well-formed results."""

from __future__ import annotations

import json
from pathlib import Path

from bench.int8_paths import SETTINGS, main


def test_native_run_writes_json_and_markdown(smoke_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "int8_paths"
    setting = "s8 per-channel"
    assert (
        main(["--bundle", f"smoke={smoke_bundle}", "--paths", "native", "--settings", setting, "--out", str(out)]) == 0
    )
    results = json.loads(out.with_suffix(".json").read_text())
    (row,) = results["rows"]
    assert (row["bundle"], row["path"], row["setting"]) == ("smoke", "native", setting)
    assert 0.0 <= row["agreement"] <= 1.0
    assert results["settings"] == {setting: SETTINGS[setting]}
    assert "AVX2" in results["cpu_features_seen"]["native"] or results["machine"]["description"]["cpu"]["flags"] == []
    assert results["machine"]["fingerprint"].startswith("fp-")
    assert f"| smoke | {setting} | native |" in out.with_suffix(".md").read_text()
