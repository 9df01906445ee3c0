"""How the predictor lays its threads out for an int8 model run one sentence per call.

`python -m bench.thread_layout --bundle DIR [--rounds 5]` → bench/results/thread_layout.{json,md}.

One sentence at a time: onnxruntime sessions with 1 and 2 intra-op threads (2 with and without spinning), p10,
p50 and p90 of the session call over 300 dev sentences. A batch of 32 one-sentence calls: one after another on a
1- or 2-thread session, or two at a time on each. Every layout runs once per round, interleaved (order reversed
every other round), so a busy spell of the machine falls on all of them; the best round of each is reported beside
the median. The predictor's choice (chalicelib/api/predictor.py) follows the fastest layouts here.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from bench.machine import machine_info
from chalice_app.chalicelib.api.predictor import Predictor, pad_batch, session_options
from model_training.data.cola import read_cola_tsv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEV_FILE = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"


def session(model: Path, threads: int, spinning: bool) -> ort.InferenceSession:
    """The predictor's session options with the threads and spinning forced."""
    options = session_options(threads)
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def measure(bundle: Path, rounds: int) -> dict[str, Any]:
    """Single-call latency per session and batch throughput per layout, `rounds` interleaved rounds."""
    predictor = Predictor(bundle, model_file="model.int8.onnx", threads=1)
    ids = [e.ids for e in predictor.tokenizer.encode_batch([r.sentence for r in read_cola_tsv(DEV_FILE)])]
    model = bundle / "model.int8.onnx"
    sessions = {
        "1 thread": session(model, 1, True),
        "2 threads, spinning": session(model, 2, True),
        "2 threads, no spinning": session(model, 2, False),
    }
    workers = ThreadPoolExecutor(max_workers=2)

    def call(s: ort.InferenceSession, x: list[int]) -> Any:
        return s.run(predictor.output_names, pad_batch([x], predictor.pad_id))

    def single(s: ort.InferenceSession) -> list[float]:
        for x in ids[:10]:
            call(s, x)
        times = []
        for x in ids[:300]:
            start = time.perf_counter()
            call(s, x)
            times.append((time.perf_counter() - start) * 1e3)
        return times

    def batch(s: ort.InferenceSession, side_by_side: bool) -> float:
        start = time.perf_counter()
        for i in range(0, len(ids), 32):
            chunk = ids[i : i + 32]
            if side_by_side:
                list(workers.map(lambda x: call(s, x), chunk))
            else:
                for x in chunk:
                    call(s, x)
        return len(ids) / (time.perf_counter() - start)

    layouts: dict[str, Callable[[], Any]] = {
        **{f"one sentence, {name}": functools.partial(single, s) for name, s in sessions.items()},
        "batch-32, 1 thread, one call at a time": lambda: batch(sessions["1 thread"], False),
        "batch-32, 2 threads, one call at a time": lambda: batch(sessions["2 threads, spinning"], False),
        "batch-32, 1 thread, two calls at a time": lambda: batch(sessions["1 thread"], True),
        "batch-32, 2 threads, two calls at a time": lambda: batch(sessions["2 threads, spinning"], True),
    }
    raw: dict[str, list[Any]] = {name: [] for name in layouts}
    for r in range(rounds):
        for name in list(layouts) if r % 2 == 0 else list(reversed(layouts)):
            raw[name].append(layouts[name]())
    single_rows = {}
    for name, rounds_ in raw.items():
        if name.startswith("one sentence"):
            p10, p50, p90 = np.percentile(np.concatenate(rounds_), [10, 50, 90])
            single_rows[name] = {
                "p50_ms_per_round": [round(statistics.median(t), 3) for t in rounds_],
                "p10_ms": round(float(p10), 3),
                "p50_ms": round(float(p50), 3),
                "p90_ms": round(float(p90), 3),
            }
    batch_rows = {
        name: {
            "sentences_per_s_per_round": [round(x) for x in v],
            "median": round(statistics.median(v)),
            "best": round(max(v)),
        }
        for name, v in raw.items()
        if name.startswith("batch")
    }
    return {"single": single_rows, "batch": batch_rows}


def write(result: dict[str, Any], machine: dict[str, Any], bundle: Path, rounds: int) -> None:
    """thread_layout.json and thread_layout.md in bench/results/."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "thread_layout.json").write_text(json.dumps({**result, "machine": machine}, indent=1) + "\n")
    lines = [
        "# Thread layout of the int8 predictor (one sentence per session call)",
        "",
        f"Command: `python -m bench.thread_layout --bundle {bundle} --rounds {rounds}`. "
        f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs ({machine['fingerprint']}), "
        f"load average {machine['load_average_at_start']} at start, onnxruntime {machine.get('onnxruntime')}.",
        "",
        "| one sentence | p10 ms | p50 ms | p90 ms | p50 per round |",
        "|---|---|---|---|---|",
        *(
            f"| {n.removeprefix('one sentence, ')} | {r['p10_ms']} | {r['p50_ms']} | {r['p90_ms']} | "
            f"{', '.join(map(str, r['p50_ms_per_round']))} |"
            for n, r in result["single"].items()
        ),
        "",
        "| batch of 32 one-sentence calls | sentences/s (median) | best round | per round |",
        "|---|---|---|---|",
        *(
            f"| {n.removeprefix('batch-32, ')} | {r['median']} | {r['best']} | "
            f"{', '.join(map(str, r['sentences_per_s_per_round']))} |"
            for n, r in result["batch"].items()
        ),
        "",
    ]
    (RESULTS / "thread_layout.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True, help="a bundle with model.int8.onnx")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    result = measure(args.bundle, args.rounds)
    write(result, machine_info(("onnxruntime", "numpy"), threads=2), args.bundle, args.rounds)
    print((RESULTS / "thread_layout.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
