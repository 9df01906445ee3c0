"""Training throughput with dynamic padding vs a fixed 128 tokens (the tutorial's setting).

`python -m bench.padding [--steps N] [--model minilm]` → bench/results/padding.{json,md}. Same model, same
sentences (the first N batches of shuffled CoLA train), forward + backward + AdamW step, one process.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from transformers import AutoTokenizer

from model_training.collate import PaddingCollator
from model_training.data import read_cola_tsv
from model_training.module import AcceptabilityClassifier
from model_training.pretrained import resolve_pretrained
from model_training.train import pretrained_spec

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
    }


def measure(module: AcceptabilityClassifier, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
    """Samples per second and mean padded width over the given batches (after one warm-up step)."""
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-5, fused=True)
    module.model.train()

    def step(batch: dict[str, torch.Tensor]) -> None:
        logits = module(batch["input_ids"], batch["attention_mask"])
        torch.nn.functional.cross_entropy(logits, batch["labels"]).backward()
        optimizer.step()
        optimizer.zero_grad()

    step(batches[0])
    started = time.perf_counter()
    for batch in batches:
        step(batch)
    seconds = time.perf_counter() - started
    samples = sum(len(b["labels"]) for b in batches)
    return {
        "samples_per_s": round(samples / seconds, 1),
        "seconds": round(seconds, 2),
        "mean_width": round(sum(b["input_ids"].shape[1] for b in batches) / len(batches), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="minilm")
    args = parser.parse_args()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"model={args.model}", f"paths.root={ROOT}", "paths.output_dir=/tmp"])
    model_dir = resolve_pretrained(pretrained_spec(cfg.model), cfg.paths.pretrained_cache)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    rows = read_cola_tsv(cfg.data.train_file)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(rows), generator=generator)[: args.steps * args.batch_size].tolist()
    sentences = [rows[i].sentence for i in order]
    labels = [rows[i].label for i in order]
    ids = tokenizer(sentences, truncation=True, max_length=128)["input_ids"]
    results: dict[str, Any] = {"model": args.model, "batch_size": args.batch_size, "steps": args.steps}
    for padding in ("dynamic", "fixed"):
        collator = PaddingCollator(tokenizer.pad_token_id, padding=padding, max_length=128)
        batches = [
            collator(
                [{"input_ids": i, "label": y} for i, y in zip(ids[s : s + args.batch_size], labels[s:], strict=False)]
            )
            for s in range(0, len(ids), args.batch_size)
        ]
        torch.manual_seed(0)
        module = AcceptabilityClassifier(str(model_dir))
        results[padding] = measure(module, batches)
        print(padding, results[padding])
    results["speedup"] = round(results["dynamic"]["samples_per_s"] / results["fixed"]["samples_per_s"], 2)
    results["machine"] = machine_info()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "padding.json").write_text(json.dumps(results, indent=2) + "\n")
    d, f = results["dynamic"], results["fixed"]
    table = (
        f"# Training throughput: dynamic vs fixed-128 padding ({args.model}, batch {args.batch_size}, "
        f"{args.steps} steps)\n\n"
        "| padding | mean width (tokens) | samples/s |\n|---|---|---|\n"
        f"| dynamic (per batch) | {d['mean_width']} | {d['samples_per_s']} |\n"
        f"| fixed 128 | {f['mean_width']} | {f['samples_per_s']} |\n\n"
        f"Speed-up: **{results['speedup']}x**. Machine: {results['machine']['processor']}, "
        f"{results['machine']['cpu_count']} threads, torch {results['machine']['torch']}. "
        "Rerun: `make bench`.\n"
    )
    (RESULTS / "padding.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
