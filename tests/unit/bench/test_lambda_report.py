"""bench-lambda's outputs are well formed: the JSON reads back, the markdown tables have a row per size with the
machine named and the plot linked, the PNG is a real image of the expected size."""

from __future__ import annotations

import json
import struct
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.lambda_config import Variant, load_config
from bench.lambda_cost import load_prices
from bench.lambda_power import Raw, recommendations, summarize
from bench.lambda_report import cpu_note, write_outputs
from bench.load_client import LoadResult

CONFIG = load_config()
PRICES = load_prices(CONFIG.prices)
SIZES = (512, 1024, 2048, 3008)


def raw(single_ms: float, batch_ms: float) -> Raw:
    def result(ms: float, texts: int) -> LoadResult:
        return LoadResult(20, 1, texts, [ms / 1000 * (1 + i / 100) for i in range(20)])

    return Raw(
        colds=[{"run_to_init_s": 0.5, "process_to_init_s": 0.2, "first_answer_s": 0.8}],
        results={"single": result(single_ms, 1), "batch": result(batch_ms, 32), "saturated_single": result(9.0, 1)},
        inside={"quota": 0.5, "affinity": 2, "auto_threads": 1, "limited": True, "cfs_period_us": 100000},
        memory_usage="68MiB / 1GiB",
        load_average=[1.0, 1.0, 1.0],
    )


def results() -> dict[str, Any]:
    rows = [summarize(Variant(m), [raw(4.0 - m / 2000, 200 - m / 20)], CONFIG, PRICES, 2) for m in SIZES]
    forced = summarize(Variant(1024, {"ORT_THREADS": "2"}, "threads"), [raw(3.5, 120)], CONFIG, PRICES, 2)
    return {
        "command": "python -m bench.lambda_power --sizes 512,1024,2048,3008",
        "bundle": "artifacts/bundles/distilled-minilm",
        "model_version": "m-0123456789ab",
        "model_file": "model.int8.onnx",
        "machine": {
            "processor": "Test CPU",
            "fingerprint": "fp-000000000000",
            "load_average_at_start": [1.0, 1.0, 1.0],
            "onnxruntime": "1.32.0",
        },
        "notes": ["a note"],
        "config": {**asdict(CONFIG), "prices": "conf/bench/lambda_prices.yaml"},
        "prices": asdict(PRICES),
        "host_cpus": 2,
        "cpu_priority": True,
        "image": {"image": "cola:m-0123456789ab", "base_image": "base:bookworm", "size_bytes": 525_000_000},
        "sizes": rows,
        "threads": [rows[1], forced],
        "recommendation": recommendations(rows, CONFIG),
    }


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_three_outputs_are_written_and_well_formed(tmp_path: Path) -> None:
    data = results()
    write_outputs(data, tmp_path / "lambda_power")
    assert json.loads((tmp_path / "lambda_power.json").read_text())["recommendation"] == data["recommendation"]
    width, height = png_size((tmp_path / "lambda_power.png").read_bytes())
    assert (width, height) == (1100, 420)
    md = (tmp_path / "lambda_power.md").read_text()
    assert "![time and cost against memory](lambda_power.png)" in md
    assert "Test CPU (fp-000000000000)" in md
    assert "Note: a note" in md
    assert "weighted above the machine's other work" in md


def test_the_tables_have_a_row_per_size_with_as_many_cells_as_headers(tmp_path: Path) -> None:
    write_outputs(results(), tmp_path / "out")
    md = (tmp_path / "out.md").read_text()
    tables: list[list[str]] = []
    for line in md.splitlines():
        if line.startswith("|"):
            if not tables or not tables[-1]:
                tables.append([])
            tables[-1].append(line)
        elif tables and tables[-1]:
            tables.append([])
    tables = [t for t in tables if t]
    assert len(tables) == 5  # recommendation, latency, cost; threads latency and cost
    for table in tables:
        widths = {line.count("|") for line in table}
        assert len(widths) == 1, table[0]
    latency, cost = tables[1], tables[2]
    assert [line.split("|")[1].strip() for line in latency[2:]] == [str(m) for m in SIZES]
    assert [line.split("|")[1].strip() for line in cost[2:]] == [str(m) for m in SIZES]
    assert "2 (ORT_THREADS)" in tables[3][3]
    assert "1 (auto)" in tables[3][2]
    assert "| dev | **" in tables[0][2]


def test_sizes_beyond_one_vcpu_say_what_this_machine_gives_them() -> None:
    rows = {row["memory_mb"]: row for row in results()["sizes"]}
    assert cpu_note(rows[1024]) == ""
    assert "Lambda spreads it over 2 vCPUs" in cpu_note(rows[2048])
    capped = {**rows[3008], "vcpu_share": 5.789, "capped": True}
    assert cpu_note(capped) == "capped: 5.789 vCPUs asked, this machine has 2"


def test_one_size_alone_is_plotted(tmp_path: Path) -> None:
    """What `--sizes 1024` writes: one point per curve, both stages recommending it."""
    data = results()
    data["sizes"], data["threads"] = data["sizes"][1:2], []
    data["recommendation"] = recommendations(data["sizes"], CONFIG)
    write_outputs(data, tmp_path / "one")
    assert png_size((tmp_path / "one.png").read_bytes()) == (1100, 420)
    assert "| 1024 | 0.579 |" in (tmp_path / "one.md").read_text()
