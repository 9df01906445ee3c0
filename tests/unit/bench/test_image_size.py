"""The image report of `make bench-image` (bench/image_size.py): its tables from measured figures, no Docker."""

from __future__ import annotations

from typing import Any

from bench.image_size import BUDGET_MB, holds, report, short

BASE_ID = "sha256:base"


def result(image: str, size_mb: float, init: list[float]) -> dict[str, Any]:
    """One image's measurements, shaped as bench.image_size.measure returns them."""
    layers = [
        {"id": "<missing>", "created_by": '/bin/sh -c #(nop)  CMD ["app.app"]', "size_bytes": 0},
        {"id": "<missing>", "created_by": "/bin/sh -c #(nop) COPY dir:abc in /var/task ", "size_bytes": 24_000_000},
        {"id": "<missing>", "created_by": "/bin/sh -c #(nop) COPY dir:def in /opt/python ", "size_bytes": 100_000_000},
        {"id": BASE_ID, "created_by": "", "size_bytes": int(size_mb * 1e6) - 124_000_000},
    ]
    return {
        "image": image,
        "base": "cola-bench-base:bookworm-slim",
        "size_bytes": int(size_mb * 1e6),
        "layers": layers,
        "contents": {
            "/opt/python/onnxruntime": 37_000_000,
            "/var/task/chalicelib": 24_000_000,
            "/opt/python/numpy": 17_000_000,
        },
        "cold_starts": [{"init_s": s, "first_answer_s": s * 2} for s in init],
        "init_median_s": sorted(init)[len(init) // 2],
        "first_answer_median_s": sorted(init)[len(init) // 2] * 2,
    }


def test_each_layer_says_what_it_holds() -> None:
    r = result("after:1", 281.6, [0.3, 0.4, 0.5])
    base, opt, task = r["layers"][3], r["layers"][2], r["layers"][1]
    assert holds(base, r) == "the base image cola-bench-base:bookworm-slim"
    assert holds(opt, r) == "onnxruntime 37.0, numpy 17.0"
    assert holds(task, r) == "chalicelib 24.0"


def test_report_has_one_summary_row_per_image_and_a_layer_table_without_empty_layers() -> None:
    machine = {"processor": "Intel(R) Xeon(R)", "cpu_count": 2, "load_average_at_start": [1.0], "platform": "Linux"}
    text = report(
        [result("before:1", 524.7, [0.5, 0.6, 0.7]), result("after:1", 281.6, [0.3, 0.4, 0.5])], "cmd", machine
    )
    rows = [line for line in text.splitlines() if line.startswith(("| before:1", "| after:1"))]
    assert rows[0].startswith("| before:1 | 524.7 | no | 0.6 | 1.2 |")
    assert rows[1].startswith("| after:1 | 281.6 | yes | 0.4 | 0.8 |")
    assert f"Budget (conf/image.yaml): {BUDGET_MB:.0f} MB" in text
    assert "CMD" not in text  # 0-byte metadata layers are left out
    assert "| `COPY dir:def in /opt/python` | 100.0 | onnxruntime 37.0, numpy 17.0 |" in text
    assert "Intel(R) Xeon(R), 2 CPUs" in text
    assert "other jobs share" in text


def test_long_instructions_are_cut_and_pipes_escaped() -> None:
    assert short("/bin/sh -c #(nop) " + "x" * 200).endswith("...")
    assert len(short("y" * 200)) == 90
    assert short("a | b") == "a \\| b"
    assert short("") == "(imported base root)"
