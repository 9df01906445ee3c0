"""bench.core_options on a tiny bundle (a constant ONNX model, a word tokenizer): the tool runs every kind of
session variant and writes well-formed results; a wrong configuration is refused with what to change. The figures
themselves are the benchmark's business, not the suite's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench import core_options
from bench.core_options import ConfigError, CoreConfig, Variant, load_config, main
from tests.support.constant_bundle import write_constant_bundle

SESSION_VARIANTS = {
    "served": {},
    "1 thread": {"threads": 1},
    "graph offline": {"graph_optimization": "offline"},
    "no cpu arena": {"cpu_mem_arena": False, "mem_pattern": False},
    "io binding": {"io_binding": True},
    "unfused SkipLayerNorm": {"model": "unfused_skip_layer_norm"},
}


def config_file(tmp_path: Path, **changes: object) -> Path:
    raw = {
        "rounds": 2,
        "warmup": 1,
        "single_sentences": 5,
        "batch_size": 32,
        "profile_sentences": 3,
        "calibration": {"sentences": 5, "seed": 0},
        "variants": SESSION_VARIANTS,
        **changes,
    }
    path = tmp_path / "core_options.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_a_run_writes_one_row_per_variant_with_ratios_gates_and_the_machine(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    write_constant_bundle(bundle)
    out = tmp_path / "results" / "core_options"
    assert main(["--bundle", f"tiny={bundle}", "--config", str(config_file(tmp_path)), "--out", str(out)]) == 0

    results = json.loads(out.with_suffix(".json").read_text())
    rows = results["bundles"]["tiny"]["variants"]
    assert list(rows) == list(SESSION_VARIANTS)
    assert rows["served"]["p50_speedup"] == rows["served"]["batch_ratio"] == 1.0
    for row in rows.values():
        assert 0 < row["p50_ms"] <= row["p95_ms"]
        assert len(row["p50_ms_per_round"]) == len(row["batch_sentences_per_s_per_round"]) == 2
        assert row["agreement"] == 1.0  # the same constant model: every variant agrees with fp32
        assert row["mcc_drop"] == 0.0
    assert rows["unfused SkipLayerNorm"]["changes_model"]
    assert not rows["io binding"]["changes_model"]
    assert 0 < results["bundles"]["tiny"]["python_p50_ms"] < rows["served"]["p95_ms"]
    profiles = results["bundles"]["tiny"]["op_profile_us_per_sentence"]
    assert set(profiles) == {"served", "unfused_skip_layer_norm"}  # one per model, not per session variant
    assert "Expand" in profiles["served"]  # the constant model's ops
    assert "| **all kernels** |" in out.with_suffix(".md").read_text()
    assert results["gates"] == {"min_agreement": 0.97, "max_mcc_drop": 0.02}
    assert results["machine"]["fingerprint"].startswith("fp-")
    assert len(results["load_average_at_end"]) == 3

    report = out.with_suffix(".md").read_text()
    assert "## tiny (fp32 dev MCC 0.0000)" in report
    assert "| unfused SkipLayerNorm (model) |" in report
    assert "| served | " in report
    assert "| 1.00x | 1.00x |" in report
    assert f"--bundle tiny={bundle}" in report
    assert results["machine"]["processor"] in report


def test_the_shipped_config_is_valid_and_measures_against_the_served_core() -> None:
    config = load_config()
    assert config.variants["served"] == Variant()
    assert {v.model for v in config.variants.values()} == set(core_options.MODELS)


def test_a_config_without_the_served_baseline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"variants must hold `served: \{\}`"):
        load_config(config_file(tmp_path, variants={"1 thread": {"threads": 1}}))


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ({"model": "fp4"}, r"unknown model 'fp4' \(choose from served, unfused_skip_layer_norm"),
        ({"graph_optimization": "max"}, r"unknown graph_optimization 'max' \(choose from all, extended"),
        ({"threds": 1}, r"variant 'bad': .*threds.* \(keys: model, threads"),
        ({"threads": 0}, "threads must be at least 1"),
    ],
)
def test_a_wrong_variant_is_refused_with_the_choices(tmp_path: Path, variant: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(config_file(tmp_path, variants={"served": {}, "bad": variant}))


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    path = config_file(tmp_path)
    raw = yaml.safe_load(path.read_text())
    del raw["rounds"]
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ConfigError, match=r"missing key 'rounds'"):
        load_config(path)


def test_unknown_variants_on_the_command_line_are_refused_with_the_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["--bundle", f"b={tmp_path}", "--config", str(config_file(tmp_path)), "--variants", "turbo"])
    assert "unknown variant(s) ['turbo']: choose from served, 1 thread" in capsys.readouterr().err


def test_a_bundle_without_a_model_says_to_export_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--bundle", f"b={tmp_path}", "--config", str(config_file(tmp_path))])
    assert "has no manifest.json and model.onnx (export it first: make export)" in capsys.readouterr().err


def test_only_keeps_the_served_baseline() -> None:
    config = CoreConfig(1, 0, 1, 32, 1, 1, 0, {"served": Variant(), "a": Variant(threads=1), "b": Variant(threads=2)})
    assert list(config.only(["b"]).variants) == ["served", "b"]


def test_a_graph_without_a_token_type_branch_is_not_folded(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    write_constant_bundle(bundle)
    with pytest.raises(ValueError, match="expected one token-type embedding Gather, found 0"):
        core_options.fold_token_type(bundle / "model.onnx", tmp_path / "folded.onnx", [[1, 1]], 0)


def test_op_profiles_are_medians_over_runs_so_one_slow_run_does_not_move_them() -> None:
    def run(ts: int) -> list[dict[str, object]]:
        return [{"cat": "Session", "name": "model_run", "ts": ts, "dur": 100}]

    def kernel(ts: int, op: str, dur: float) -> dict[str, object]:
        return {"cat": "Node", "name": f"{op}_1_kernel_time", "ts": ts, "dur": dur, "args": {"op_name": op}}

    events = [
        *run(0), kernel(1, "MatMul", 10), kernel(2, "MatMul", 10), kernel(3, "Add", 1),
        *run(100), kernel(101, "MatMul", 20), kernel(102, "Add", 2),
        *run(200), kernel(201, "MatMul", 900), kernel(202, "Add", 3), kernel(203, "Tanh", 5),
    ]  # fmt: skip
    assert core_options.per_op_medians(events) == {"MatMul": 20.0, "Add": 2.0, "Tanh": 0.0, "all kernels": 22.0}


def test_the_int8_fallback_variant_times_the_encoders_first_fallback() -> None:
    fallback = core_options.int8_fallback("minilm")
    assert (fallback["per_channel"], fallback["reduce_range"], fallback["keep_fp32"]) == (True, False, [])


def test_an_encoder_without_fallbacks_has_no_int8_fallback_to_time() -> None:
    with pytest.raises(ConfigError, match=r"conf/export/mpnet.yaml has no quantization.fallbacks"):
        core_options.int8_fallback("mpnet")
