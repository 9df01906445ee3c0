"""The teacher's trainer preset (model_training.trainer_choice): gpu when torch sees a CUDA device, cpu_bf16 on a CPU
with AMX bf16 units, cpu otherwise, and never over the user's own choice."""

from __future__ import annotations

import pytest

from model_training.trainer_choice import choose_trainer, main, named_trainer


def test_a_visible_cuda_device_picks_the_gpu_preset_and_names_the_device() -> None:
    choice = choose_trainer([], cuda_devices=1, device_name="NVIDIA H200")

    assert choice.preset == "gpu"
    assert "NVIDIA H200" in choice.reason


def test_no_cuda_device_keeps_the_cpu_preset() -> None:
    choice = choose_trainer(["training.lr=3e-5"], cuda_devices=0, cpu_flags=["avx2", "avx512f", "avx512_bf16"])

    assert choice.preset == "cpu"
    assert "no CUDA device" in choice.reason
    assert "no amx_bf16" in choice.reason


def test_a_cpu_with_amx_bf16_units_trains_in_bf16_mixed_precision() -> None:
    choice = choose_trainer([], cuda_devices=0, cpu_flags=["avx512f", "amx_bf16", "amx_int8"])

    assert choice.preset == "cpu_bf16"
    assert "amx_bf16" in choice.reason


def test_a_gpu_wins_over_amx() -> None:
    assert choose_trainer([], cuda_devices=1, device_name="x", cpu_flags=["amx_bf16"]).preset == "gpu"


def test_the_bf16_preset_is_the_cpu_preset_in_bf16_mixed_precision() -> None:
    from pathlib import Path

    import yaml

    presets = Path(__file__).resolve().parents[3] / "conf" / "trainer"
    bf16 = yaml.safe_load((presets / "cpu_bf16.yaml").read_text())

    assert bf16["defaults"] == ["cpu", "_self_"]
    assert bf16["precision"] == "bf16-mixed"
    assert set(bf16) == {"defaults", "precision"}  # everything else as trainer=cpu


@pytest.mark.parametrize("cuda_devices", [0, 2])
@pytest.mark.parametrize(
    "override", ["trainer=cpu", "trainer=ddp", "+trainer=gpu", "++trainer=ddp_cpu", "trainer=cpu_bf16"]
)
def test_a_trainer_named_in_the_overrides_wins(override: str, cuda_devices: int) -> None:
    choice = choose_trainer(["debug=smoke", override], cuda_devices=cuda_devices, device_name="x")

    assert choice.preset is None  # nothing added: Hydra rejects a group given twice
    assert override.split("=")[1] in choice.reason


def test_trainer_settings_are_not_a_preset_choice() -> None:
    assert named_trainer(["trainer.max_epochs=3", "trainer.devices=2"]) is None
    assert named_trainer(["trainer=gpu", "trainer=ddp"]) == "ddp"  # the last one, as Hydra reads them


def test_a_negative_device_count_is_refused() -> None:
    with pytest.raises(ValueError, match="cuda_devices"):
        choose_trainer([], cuda_devices=-1)


def test_the_command_prints_the_preset_and_logs_why(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from model_training.machine import cpu_description

    assert main(["debug=smoke"]) == 0
    out, err = capsys.readouterr()
    amx = "amx_bf16" in cpu_description()["flags"]
    expected = "gpu" if torch.cuda.is_available() and torch.cuda.device_count() else "cpu_bf16" if amx else "cpu"
    assert out.strip() == expected
    assert err.startswith("teacher trainer: ")


def test_the_command_prints_nothing_when_the_trainer_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trainer=ddp_cpu"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "trainer=ddp_cpu as given" in err
