"""Evaluate a trained run on CoLA-format TSV files: `python -m model_training.evaluate RUN_DIR [name=file.tsv ...]`.

Uses the run's saved Hugging Face model (RUN_DIR/model) and its resolved config; writes RUN_DIR/evaluation.json
and a confusion matrix PNG per file. Without files it evaluates the run's own validation file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from model_training.data.cola import DataValidationError, read_cola_tsv, sha256_file
from model_training.data.collate import PaddingCollator
from model_training.models.metrics import classification_metrics, confusion_matrix
from model_training.plots import confusion_matrix_figure


def evaluate_file(model: Any, tokenizer: Any, path: Path, max_length: int, batch_size: int = 128) -> dict[str, Any]:
    """Accuracy, F1, precision, recall, MCC and the confusion matrix of `model` on one TSV file."""
    rows = read_cola_tsv(path)
    collator = PaddingCollator(tokenizer.pad_token_id, "dynamic", max_length)
    probs: list[torch.Tensor] = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            encoded = tokenizer([r.sentence for r in chunk], truncation=True, max_length=max_length)
            batch = collator([{"input_ids": ids} for ids in encoded["input_ids"]])
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            probs.append(logits.softmax(-1)[:, 1])
    scores = torch.cat(probs)
    gold = torch.as_tensor([r.label for r in rows])
    metrics = {k.split("/", 1)[1]: float(v) for k, v in classification_metrics("eval")(scores, gold).items()}
    matrix = confusion_matrix()(scores, gold).tolist()
    return {"file": str(path), "sha256": sha256_file(path), "n": len(rows), **metrics, "confusion_matrix": matrix}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a training run directory (holds model/ and metrics.json)")
    parser.add_argument("files", nargs="*", help="name=path.tsv pairs (default: the run's validation file)")
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir
    metrics_file, model_dir = run_dir / "metrics.json", run_dir / "model"
    if not metrics_file.is_file() or not model_dir.is_dir():
        print(f"error: {run_dir} is not a finished training run (no metrics.json or model/); run `make train`")
        return 2
    config = json.loads(metrics_file.read_text())["config"]
    files = dict(spec.split("=", 1) if "=" in spec else (Path(spec).stem, spec) for spec in args.files)
    files = files or {"validation": config["data"]["validation_file"]}
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir))
    label_names = [model.config.id2label[i] for i in range(model.config.num_labels)]  # saved from data.labels
    results: dict[str, Any] = {}
    for name, path in files.items():
        try:
            results[name] = evaluate_file(model, tokenizer, Path(path), config["data"]["max_length"])
        except DataValidationError as err:
            print(f"error: {err}")
            return 2
        fig = confusion_matrix_figure(results[name]["confusion_matrix"], label_names, f"{run_dir.name}: {name}")
        fig.savefig(run_dir / f"evaluation_{name}.png")
        plt.close(fig)
        r = results[name]
        print(f"{name:>16}: n={r['n']:5d}  MCC {r['mcc']:.4f}  accuracy {r['accuracy']:.4f}  F1 {r['f1']:.4f}")
    (run_dir / "evaluation.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
