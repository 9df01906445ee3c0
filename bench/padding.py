"""Training throughput with dynamic padding vs a fixed 128 tokens (the tutorial's setting).

`python -m bench.padding [--steps N] [--model minilm]` → bench/results/padding.{json,md}. Same model, same
sentences (the first N batches of shuffled CoLA train), forward + backward + AdamW step, one process.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from transformers import AutoTokenizer

from bench.machine import machine_info
from model_training.data.cola import read_cola_tsv
from model_training.data.collate import PaddingCollator
from model_training.data.sampler import LengthGroupedBatchSampler
from model_training.models.classifier import AcceptabilityClassifier
from model_training.models.pretrained import resolve_pretrained
from model_training.train import pretrained_spec

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


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
    ids = tokenizer([r.sentence for r in rows], truncation=True, max_length=128)["input_ids"]
    labels = [r.label for r in rows]
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0)).tolist()
    random_batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    grouped_batches = list(LengthGroupedBatchSampler([len(i) for i in ids], args.batch_size, seed=0))
    variants = {
        "fixed 128 (the tutorial)": ("fixed", random_batches),
        "dynamic, random batches": ("dynamic", random_batches),
        "dynamic, length-grouped batches": ("dynamic", grouped_batches),
    }
    results: dict[str, Any] = {"model": args.model, "batch_size": args.batch_size, "steps": args.steps}
    for name, (padding, index_batches) in variants.items():
        collator = PaddingCollator(tokenizer.pad_token_id, padding=padding, max_length=128)
        batches = [
            collator([{"input_ids": ids[i], "label": labels[i]} for i in b]) for b in index_batches[: args.steps]
        ]
        torch.manual_seed(0)
        module = AcceptabilityClassifier(str(model_dir))
        results[name] = measure(module, batches)
        print(name, results[name])
    base = results["fixed 128 (the tutorial)"]["samples_per_s"]
    for name in variants:
        results[name]["speedup_vs_fixed"] = round(results[name]["samples_per_s"] / base, 2)
    results["machine"] = machine_info(("torch",), threads=torch.get_num_threads())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "padding.json").write_text(json.dumps(results, indent=2) + "\n")
    table = (
        f"# Training throughput by padding ({args.model}, batch {args.batch_size}, {args.steps} steps each, "
        "forward + backward + AdamW)\n\n"
        "| padding | mean width (tokens) | samples/s | speed-up vs fixed 128 |\n|---|---|---|---|\n"
        + "".join(
            f"| {name} | {results[name]['mean_width']} | {results[name]['samples_per_s']} | "
            f"{results[name]['speedup_vs_fixed']}x |\n"
            for name in variants
        )
        + f"\nMachine: {results['machine']['processor']} ({results['machine']['fingerprint']}), "
        f"{results['machine']['threads']} threads, "
        f"torch {results['machine']['torch']}. Rerun: `make bench` (or `python -m bench.padding --model mpnet`).\n"
    )
    (RESULTS / "padding.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
