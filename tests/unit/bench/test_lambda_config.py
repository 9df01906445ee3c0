"""bench-lambda's configuration: the repository's file, the errors a wrong one gets, the CPU share, the run order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.lambda_config import CONFIG, ConfigError, Variant, cpu_share, load_config, plan, round_order


def raw_config(**changes: Any) -> dict[str, Any]:
    raw = yaml.safe_load(CONFIG.read_text())
    raw.update(changes)
    return raw


def written(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "lambda.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_repository_config_tries_lambdas_sizes_around_one_vcpu() -> None:
    config = load_config()
    assert config.memory_sizes_mb == (512, 768, 1024, 1536, 1769, 2048, 3008)
    assert config.mb_per_vcpu == 1769
    assert config.threads_memory_mb == 1024
    assert config.threads_forced == 2
    assert set(config.recommend) == {"dev", "prod"}
    assert config.prices.is_file()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"memory_sizes_mb": [64]}, "outside what Lambda accepts"),
        ({"memory_sizes_mb": [12_000]}, "outside what Lambda accepts"),
        ({"memory_sizes_mb": []}, "memory_sizes_mb is empty"),
        ({"single_requests": 0}, "single_requests must be at least 1"),
        ({"pause_ms": -1}, "pause_ms must be at least 0"),
        ({"recommend": {"prod": {"p95_within": -0.1}}}, "tolerances must be >= 0"),
        ({"recommend": {"prod": {}}}, "missing key 'p95_within'"),
        ({"rounds": "two"}, "wrong type"),
    ],
)
def test_a_wrong_config_names_its_key(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(written(tmp_path, raw_config(**changes)))


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    raw = raw_config()
    del raw["mb_per_vcpu"]
    with pytest.raises(ConfigError, match="missing key 'mb_per_vcpu'"):
        load_config(written(tmp_path, raw))


class TestCpuShare:
    def test_below_one_vcpu_the_share_is_given_as_is(self) -> None:
        share = cpu_share(1024, 1769, host_cpus=2)
        assert (share.vcpu_share, share.cpus_given, share.beyond_one_vcpu, share.capped) == (0.579, 0.579, False, False)

    def test_above_one_vcpu_the_row_says_so(self) -> None:
        share = cpu_share(3008, 1769, host_cpus=2)
        assert (share.vcpu_share, share.cpus_given, share.beyond_one_vcpu, share.capped) == (1.7, 1.7, True, False)

    def test_a_share_beyond_the_machine_is_capped_at_its_processors(self) -> None:
        share = cpu_share(10_240, 1769, host_cpus=2)
        assert (share.vcpu_share, share.cpus_given, share.capped) == (5.789, 2.0, True)


class TestPlan:
    def test_the_forced_threads_run_right_after_their_size(self) -> None:
        variants = plan(load_config())
        assert [v.memory_mb for v in variants] == [512, 768, 1024, 1024, 1536, 1769, 2048, 3008]
        forced = variants[3]
        assert (forced.environment, forced.role) == ({"ORT_THREADS": "2"}, "threads")
        assert all(v.role == "sweep" and not v.environment for i, v in enumerate(variants) if i != 3)

    def test_a_thread_size_outside_the_sweep_gets_both_variants(self, tmp_path: Path) -> None:
        config = load_config(written(tmp_path, raw_config(memory_sizes_mb=[512], threads={"memory_mb": 768})))
        assert plan(config) == [
            Variant(512),
            Variant(768, role="threads"),
            Variant(768, {"ORT_THREADS": "2"}, "threads"),
        ]

    def test_an_earlier_image_runs_beside_the_thread_comparison(self, tmp_path: Path) -> None:
        raw = raw_config(memory_sizes_mb=[1024, 2048])
        config = load_config(written(tmp_path, raw))
        before = plan(replace(config, before_image="old:tag"))
        assert [(v.memory_mb, v.image) for v in before] == [(1024, None), (1024, None), (1024, "old:tag"), (2048, None)]
        assert before[2].label == "before: image old:tag"

    def test_rounds_alternate_the_order(self) -> None:
        assert round_order([1, 2, 3], 0) == [1, 2, 3]
        assert round_order([1, 2, 3], 1) == [3, 2, 1]
        assert round_order([1, 2, 3], 2) == [1, 2, 3]
