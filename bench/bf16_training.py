"""fp32 against bf16 autocast on this CPU: one training step and one inference batch per encoder, CoLA sentences.

`python -m bench.bf16_training [--model mpnet=artifacts/runs/mpnet/model --model minilm=...] [--steps 8]`
→ bench/results/bf16_training.{json,md}.

A training step is what `make train` does per batch (forward, loss, backward, gradient clipping, fused AdamW); the
batches are real training sentences at the training batch size with dynamic padding, the same batches for both
precisions. Inference is a no-grad forward of 64 sentences (the teacher-logits batch). The figure to read is the
ratio fp32 / bf16 measured in one run: bf16 pays only where the CPU multiplies bf16 in hardware (AMX), which is why
`make teacher` picks trainer=cpu_bf16 from the CPU's flags (model_training/trainer_choice.py).
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


def markdown(rows: list[Timing], machine: dict[str, Any], batch_size: int, command: str) -> str:
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
    lines += ["", f"Rerun: `{command}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="name=path of a saved model (repeatable)")
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per precision (default 8)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size (default 32)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results path without suffix")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1:
        parser.error("--steps and --batch-size must be >= 1")
    try:
        models = [parse_model(spec) for spec in (args.model or DEFAULT_MODELS)]
        import torch

        from bench.machine import machine_info

        torch.manual_seed(0)
        rows = [measure(name, path, args.steps, args.batch_size) for name, path in models]
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    machine = machine_info(["torch", "transformers"], steps=args.steps, batch_size=args.batch_size)
    specs = " ".join(f"--model {name}={path}" for name, path in models)
    command = f"python -m bench.bf16_training {specs} --steps {args.steps} --batch-size {args.batch_size}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"machine": machine, "models": rows}, indent=2) + "\n")
    text = markdown(rows, machine, args.batch_size, command)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
