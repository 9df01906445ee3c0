"""bench.bf16_training: the model specs it takes, the batches it times, the table it writes, its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import bf16_training
from bench.bf16_training import (
    LogitsTiming,
    Timing,
    logits_markdown,
    markdown,
    measure_logits,
    parse_model,
    sentence_batches,
)


def test_a_model_is_given_as_name_equals_path() -> None:
    assert parse_model("mpnet=artifacts/runs/mpnet/model") == ("mpnet", Path("artifacts/runs/mpnet/model"))


@pytest.mark.parametrize("spec", ["mpnet", "=path", "mpnet=", ""])
def test_a_model_without_name_or_path_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="name=path"):
        parse_model(spec)


def test_the_batches_are_training_sentences_fixed_by_the_seed() -> None:
    first, again = sentence_batches(3, 32), sentence_batches(3, 32)

    assert first == again
    assert [len(batch) for batch in first] == [32, 32, 32]
    assert first[0] != first[1]
    assert sentence_batches(1, 32, seed=1) != first[:1]


def test_the_table_gives_the_fp32_over_bf16_ratio_with_the_machine() -> None:
    row: Timing = {
        "model": "mpnet",
        "path": "p",
        "parameters_m": 109.5,
        "train_fp32_s": 1.2,
        "train_bf16_s": 0.6,
        "infer_fp32_s": 0.5,
        "infer_bf16_s": 0.125,
    }
    machine = {
        "processor": "Xeon",
        "cpu_count": 2,
        "fingerprint": "fp-1",
        "description": {"cpu": {"flags": ["avx512f", "amx_bf16"]}},
    }

    text = markdown([row], machine, 32, "python -m bench.bf16_training")

    assert "| mpnet | 109.5 | 1.200 s | 0.600 s | 2.00x | 0.500 s | 0.125 s | 4.00x |" in text
    assert "fp-1" in text
    assert "amx_bf16" in text
    assert text.rstrip().endswith("Rerun: `python -m bench.bf16_training`")


def test_a_model_directory_that_is_not_a_saved_model_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = bf16_training.main(["--model", f"x={tmp_path}", "--out", str(tmp_path / "r")])

    assert code == 2
    assert "no config.json" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_steps_below_one_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        bf16_training.main(["--steps", "0", "--out", str(tmp_path / "r")])


def test_the_logits_table_compares_the_two_engines() -> None:
    logits: LogitsTiming = {
        "bundle": "artifacts/bundles/mpnet",
        "run_model": "artifacts/runs/mpnet/model",
        "sentences": 4000,
        "onnx_s": 30.0,
        "torch_bf16_s": 12.0,
        "max_abs_diff": 0.2287,
        "mean_abs_diff": 0.00497,
        "p99_abs_diff": 0.0403,
        "agreement": 0.998,
    }

    text = "\n".join(logits_markdown(logits))

    assert "| 30.0 s | 12.0 s | 2.50x | 0.229 | 0.0050 | 0.040 | 0.9980 |" in text
    assert "4000 sentences" in text


def test_a_logits_bundle_that_is_not_a_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no manifest\.json"):
        measure_logits(tmp_path, 10)
