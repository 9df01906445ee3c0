"""fp32 against bf16 autocast on this CPU: one training step and one inference batch per encoder, CoLA sentences.

`python -m bench.bf16_training [--model mpnet=artifacts/runs/mpnet/model --model minilm=...] [--steps 8]
[--logits artifacts/bundles/mpnet --logits-sentences 4000]` → bench/results/bf16_training.{json,md}.

A training step is what `make train` does per batch (forward, loss, backward, gradient clipping, fused AdamW); the
batches are real training sentences at the training batch size with dynamic padding, the same batches for both
precisions. Inference is a no-grad forward of 64 sentences (the teacher-logits batch). The figure to read is the
ratio fp32 / bf16 measured in one run: bf16 pays only where the CPU multiplies bf16 in hardware (AMX), which is why
`make teacher` picks trainer=cpu_bf16 from the CPU's flags (model_training/trainer_choice.py).

`--logits BUNDLE` also times the teacher logits of `make distill` on a fixed sample of the seed-42 transfer set: the
bundle's ONNX model against its run's weights in bf16 (model_training/distillation/teacher_engine.py), with their
parity, the figures behind `distill.teacher.parity`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "bf16_training"
TRAIN_TSV = ROOT / "data" / "cola" / "raw" / "in_domain_train.tsv"
DEFAULT_MODELS = ("mpnet=artifacts/runs/mpnet/model", "minilm=artifacts/runs/minilm/model")


class LogitsTiming(TypedDict):
    """Seconds to label a sample of transfer sentences with each engine, and how far apart the logits are."""

    bundle: str
    run_model: str
    sentences: int
    onnx_s: float
    torch_bf16_s: float
    max_abs_diff: float
    mean_abs_diff: float
    p99_abs_diff: float
    agreement: float


class Timing(TypedDict):
    """Median seconds per training step and per inference batch of one model in fp32 and bf16."""

    model: str
    path: str
    parameters_m: float
    train_fp32_s: float
    train_bf16_s: float
    infer_fp32_s: float
    infer_bf16_s: float


def parse_model(spec: str) -> tuple[str, Path]:
    """`name=path` → (name, path); the path is a saved transformers model directory."""
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise ValueError(f"--model wants name=path, got {spec!r}")
    return name, Path(path)


def sentence_batches(count: int, size: int, seed: int = 0) -> list[list[str]]:
    """`count` random batches of `size` CoLA training sentences (fixed by the seed)."""
    from model_training.data.cola import read_cola_tsv

    sentences = [row.sentence for row in read_cola_tsv(TRAIN_TSV)]
    rng = random.Random(seed)
    return [rng.sample(sentences, size) for _ in range(count)]


def median_seconds(step: Any, batches: list[Any], warmup: int) -> float:
    """Median wall time of `step(batch)` over the batches after `warmup` untimed calls."""
    for batch in batches[:warmup]:
        step(batch)
    times = []
    for batch in batches[warmup:]:
        start = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_model(
    model: Any, encoded: list[Any], labels: list[Any], infer: list[Any], *, bf16: bool, warmup: int
) -> tuple[float, float]:
    """Median seconds of a training step over `encoded` and of a no-grad forward over `infer`."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)

    def autocast() -> Any:
        return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()

    def train_step(i: int) -> None:
        with autocast():
            loss = model(**encoded[i], labels=labels[i]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()

    @torch.no_grad()
    def infer_step(i: int) -> None:
        with autocast():
            model(**infer[i])

    model.train()
    train_s = median_seconds(train_step, list(range(len(encoded))), warmup)
    model.eval()
    return train_s, median_seconds(infer_step, list(range(len(infer))), 1)


def measure(name: str, path: Path, steps: int, batch_size: int, warmup: int = 2) -> Timing:
    """Training-step and inference-batch medians of one model, fp32 then bf16, from the same starting weights."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not a saved model directory (no config.json): train it first (make train)")
    tokenizer = AutoTokenizer.from_pretrained(path)
    texts = sentence_batches(steps + warmup, batch_size)
    encoded = [tokenizer(t, padding=True, truncation=True, max_length=64, return_tensors="pt") for t in texts]
    labels = [torch.randint(0, 2, (batch_size,), generator=torch.Generator().manual_seed(i)) for i in range(len(texts))]
    infer = [
        tokenizer(a + b, padding=True, truncation=True, max_length=64, return_tensors="pt")
        for a, b in zip(texts[::2], texts[1::2], strict=False)
    ]
    timings: dict[str, float] = {}
    parameters = 0
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
        parameters = sum(p.numel() for p in model.parameters())
        train_s, infer_s = time_model(model, encoded, labels, infer, bf16=precision == "bf16", warmup=warmup)
        timings[f"train_{precision}_s"], timings[f"infer_{precision}_s"] = train_s, infer_s
    return {
        "model": name,
        "path": str(path),
        "parameters_m": round(parameters / 1e6, 1),
        "train_fp32_s": timings["train_fp32_s"],
        "train_bf16_s": timings["train_bf16_s"],
        "infer_fp32_s": timings["infer_fp32_s"],
        "infer_bf16_s": timings["infer_bf16_s"],
    }


def measure_logits(bundle: Path, sentences: int) -> LogitsTiming:
    """Both teacher-logits engines on the same sample of the seed-42 transfer set (make distill's defaults)."""
    import numpy as np
    from hydra import compose, initialize_config_dir

    from chalice_app.chalicelib.api.predictor import Predictor
    from chalice_app.chalicelib.contract.manifest import load_manifest
    from model_training.data.cola import read_cola_tsv
    from model_training.distillation.teacher_engine import TorchTeacher, parity, sample_rows
    from model_training.distillation.teacher_logits import compute_logits
    from model_training.distillation.transfer_set import transfer_sentences

    if not (bundle / "manifest.json").is_file():
        raise FileNotFoundError(f"{bundle} is not a bundle (no manifest.json): make teacher")
    run_model = ROOT / "artifacts" / "runs" / load_manifest(bundle)["run_name"] / "model"
    if not (run_model / "config.json").is_file():
        raise FileNotFoundError(f"the bundle's run {run_model} is not here: the bf16 engine needs it (make teacher)")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        transfer = compose("distill", overrides=[f"paths.root={ROOT}", "seed=42"]).distill.transfer
    train = [row.sentence for row in read_cola_tsv(TRAIN_TSV)]
    pool = train + transfer_sentences(train, transfer.copies_per_sentence, list(transfer.operations), transfer.seed)
    sample = [pool[i] for i in sample_rows(len(pool), sentences, seed=1)]
    predictor = Predictor(bundle, model_file="model.onnx")
    teacher = TorchTeacher(run_model, predictor.pad_id)
    compute_logits(predictor, sample[:128], 64, teacher.logits)  # warm-up
    start = time.perf_counter()
    fast = compute_logits(predictor, sample, 64, teacher.logits)
    torch_s = time.perf_counter() - start
    start = time.perf_counter()
    reference = compute_logits(predictor, sample, 64)
    onnx_s = time.perf_counter() - start
    checked = parity(fast, reference)
    return {
        "bundle": str(bundle),
        "run_model": str(run_model.relative_to(ROOT)),
        "sentences": len(sample),
        "onnx_s": round(onnx_s, 2),
        "torch_bf16_s": round(torch_s, 2),
        "max_abs_diff": round(checked.max_abs_diff, 4),
        "mean_abs_diff": round(checked.mean_abs_diff, 5),
        "p99_abs_diff": round(float(np.quantile(np.abs(fast - reference), 0.99)), 4),
        "agreement": round(checked.agreement, 4),
    }


def logits_markdown(row: LogitsTiming) -> list[str]:
    return [
        "",
        f"Teacher logits (`make distill`) on {row['sentences']} sentences of the seed-42 transfer set, batches of 64 "
        f"sorted by length: bundle `{row['bundle']}` in onnxruntime fp32 against its run `{row['run_model']}` in "
        "torch bf16.",
        "",
        "| onnx fp32 | torch bf16 | onnx / bf16 | max abs diff | mean abs diff | p99 abs diff | same verdict |",
        "|---|---|---|---|---|---|---|",
        f"| {row['onnx_s']:.1f} s | {row['torch_bf16_s']:.1f} s | {row['onnx_s'] / row['torch_bf16_s']:.2f}x | "
        f"{row['max_abs_diff']:.3f} | {row['mean_abs_diff']:.4f} | {row['p99_abs_diff']:.3f} | "
        f"{row['agreement']:.4f} |",
    ]


def markdown(
    rows: list[Timing], machine: dict[str, Any], batch_size: int, command: str, logits: LogitsTiming | None = None
) -> str:
    flags = ", ".join(machine["description"]["cpu"]["flags"])
    lines = [
        "# fp32 against bf16 autocast on the CPU",
        "",
        f"Machine: {machine['processor']} ({machine['cpu_count']} CPUs, fingerprint {machine['fingerprint']}; "
        f"flags: {flags}). Median seconds per training step (batch {batch_size}: forward, backward, clipping, fused "
        "AdamW) and per no-grad batch of 64 sentences; CoLA training sentences, dynamic padding.",
        "",
        "| model | parameters (M) | train step fp32 | bf16 | fp32 / bf16 | inference fp32 | bf16 | fp32 / bf16 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['parameters_m']} | {row['train_fp32_s']:.3f} s | {row['train_bf16_s']:.3f} s | "
            f"{row['train_fp32_s'] / row['train_bf16_s']:.2f}x | {row['infer_fp32_s']:.3f} s | "
            f"{row['infer_bf16_s']:.3f} s | {row['infer_fp32_s'] / row['infer_bf16_s']:.2f}x |"
        )
    if logits is not None:
        lines += logits_markdown(logits)
    lines += ["", f"Rerun: `{command}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="name=path of a saved model (repeatable)")
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per precision (default 8)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size (default 32)")
    parser.add_argument("--logits", type=Path, help="a teacher bundle: time both teacher-logits engines on it")
    parser.add_argument("--logits-sentences", type=int, default=4000, help="transfer sentences for --logits")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results path without suffix")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1 or args.logits_sentences < 1:
        parser.error("--steps, --batch-size and --logits-sentences must be >= 1")
    try:
        models = [parse_model(spec) for spec in (args.model or DEFAULT_MODELS)]
        import torch

        from bench.machine import machine_info

        torch.manual_seed(0)
        rows = [measure(name, path, args.steps, args.batch_size) for name, path in models]
        logits = measure_logits(args.logits, args.logits_sentences) if args.logits else None
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    machine = machine_info(["torch", "transformers"], steps=args.steps, batch_size=args.batch_size)
    specs = " ".join(f"--model {name}={path}" for name, path in models)
    command = f"python -m bench.bf16_training {specs} --steps {args.steps} --batch-size {args.batch_size}"
    if args.logits:
        command += f" --logits {args.logits} --logits-sentences {args.logits_sentences}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"machine": machine, "models": rows, "logits": logits}, indent=2) + "\n"
    )
    text = markdown(rows, machine, args.batch_size, command, logits)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
