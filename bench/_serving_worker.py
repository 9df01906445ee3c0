"""One serving variant in a fresh process, for bench.serving: cold start, latency, throughput, peak RSS, MCC.

`python -m bench._serving_worker VARIANT [options]` with VARIANT one of predictor, pipeline, tutorial; the dev set
comes as JSON ({"sentences": [...], "labels": [...]}) on stdin, read only after the cold start. Prints one line
`BENCH_RESULT {json}`. `python -m bench._serving_worker export-tutorial --run-model DIR --onnx FILE` writes the
tutorial's ONNX (fixed sequence 128, only the batch axis dynamic): untimed set-up, run once per model.

Imports happen inside the loaders, after the clock starts, so each process pays exactly its variant's imports.
"""

import time

T0 = time.perf_counter()  # first statement: cold start counts every import below
T0_WALL = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

FIRST_SENTENCE = "The book was written by John."
TUTORIAL_MAX_LENGTH = 128
Predict = Callable[[list[str]], list[int]]
marks: dict[str, float] = {}


def load_predictor(args: argparse.Namespace) -> Predict:
    """This project's torch-free runtime: onnxruntime + tokenizers + numpy, bundle verified on load."""
    from chalice_app.chalicelib.api.predictor import Predictor

    marks["imported"] = time.perf_counter()
    predictor = Predictor(Path(args.bundle), model_file=args.model_file, threads=args.threads)
    return lambda texts: [predictor.labels.index(p.label) for p in predictor.predict(texts)]


def load_pipeline(args: argparse.Namespace) -> Predict:
    """What a user would pick instead: transformers' text-classification pipeline on torch, CPU."""
    import torch
    from transformers import pipeline

    torch.set_num_threads(args.threads)
    marks["imported"] = time.perf_counter()
    classifier = pipeline("text-classification", model=args.run_model, device=-1)
    label2id = {k: int(v) for k, v in classifier.model.config.label2id.items()}

    def predict(texts: list[str]) -> list[int]:
        outputs = classifier(texts, batch_size=len(texts), truncation=True)
        return [label2id[o["label"]] for o in outputs]

    return predict


def load_tutorial(args: argparse.Namespace) -> Predict:
    """The tutorial's path: torch imported, transformers tokenizer padding to 128, fixed-length ONNX."""
    import numpy as np
    import onnxruntime as ort
    import torch  # the tutorial's predictor imported torch (through its data module)
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    marks["imported"] = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(args.run_model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.onnx, options, providers=["CPUExecutionProvider"])

    def predict(texts: list[str]) -> list[int]:
        enc = tokenizer(
            texts, padding="max_length", max_length=TUTORIAL_MAX_LENGTH, truncation=True, return_tensors="np"
        )
        feeds = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")}
        (logits,) = session.run(None, feeds)
        return [int(i) for i in np.argmax(logits, axis=-1)]

    return predict


LOADERS: dict[str, Callable[[argparse.Namespace], Predict]] = {
    "predictor": load_predictor,
    "pipeline": load_pipeline,
    "tutorial": load_tutorial,
}


def export_tutorial(run_model: str, out: Path) -> None:
    """torch → ONNX as the tutorial did: opset 17, sequence fixed to 128, only the batch axis dynamic."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from export.onnx_export import LogitsOnly

    model = AutoModelForSequenceClassification.from_pretrained(run_model).eval()
    example = tuple(torch.ones(1, TUTORIAL_MAX_LENGTH, dtype=torch.long) for _ in range(2))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with torch.no_grad():
        torch.onnx.export(
            LogitsOnly(model).eval(),
            example,
            str(partial),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
    partial.replace(out)


def mcc(labels: list[int], predictions: list[int]) -> float:
    """Matthews correlation for binary labels (0 when a margin is empty, as sklearn and torchmetrics do)."""
    import numpy as np

    y, p = np.asarray(labels, dtype=bool), np.asarray(predictions, dtype=bool)
    tp, tn = float(np.sum(y & p)), float(np.sum(~y & ~p))
    fp, fn = float(np.sum(~y & p)), float(np.sum(y & ~p))
    denominator = ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) ** 0.5
    return (tp * tn - fp * fn) / denominator if denominator else 0.0


def percentile_ms(seconds: list[float], q: float) -> float:
    import numpy as np

    return round(float(np.percentile(seconds, q)) * 1000, 3)


def measure(predict: Predict, sentences: list[str], labels: list[int], runs: int) -> dict[str, Any]:
    """Single-sentence latency (10 warm-ups, then `runs` dev sentences) and batch-32 throughput + MCC."""
    for sentence in sentences[-10:]:
        predict([sentence])
    timed = (sentences * (runs // len(sentences) + 1))[:runs]
    latencies = []
    for sentence in timed:
        started = time.perf_counter()
        predict([sentence])
        latencies.append(time.perf_counter() - started)
    predict(sentences[:32])  # one untimed batch: batch-shaped buffers allocated before the clock
    predictions: list[int] = []
    started = time.perf_counter()
    for start in range(0, len(sentences), 32):
        predictions.extend(predict(sentences[start : start + 32]))
    seconds = time.perf_counter() - started
    return {
        "p50_ms": percentile_ms(latencies, 50),
        "p99_ms": percentile_ms(latencies, 99),
        "mean_ms": round(sum(latencies) / len(latencies) * 1000, 3),
        "latency_runs": len(latencies),
        "batch32_sent_per_s": round(len(sentences) / seconds, 1),
        "dev_n": len(sentences),
        "dev_mcc": round(mcc(labels, predictions), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=[*LOADERS, "export-tutorial"])
    parser.add_argument("--bundle", help="bundle directory (predictor)")
    parser.add_argument("--model-file", help="model file in the bundle (predictor)")
    parser.add_argument("--run-model", help="Hugging Face model directory of the training run (pipeline, tutorial)")
    parser.add_argument("--onnx", help="the tutorial's fixed-length ONNX file (tutorial, export-tutorial)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--cold-only", action="store_true", help="stop after the first prediction")
    args = parser.parse_args()
    if args.variant == "export-tutorial":
        export_tutorial(args.run_model, Path(args.onnx))
        print("BENCH_RESULT " + json.dumps({"onnx": args.onnx}), flush=True)
        return

    predict = LOADERS[args.variant](args)
    marks["loaded"] = time.perf_counter()
    predict([FIRST_SENTENCE])
    done = time.perf_counter()
    spawned = float(os.environ.get("BENCH_SPAWN_T", T0_WALL))
    result: dict[str, Any] = {
        "cold_start_s": round(done - T0, 4),
        "cold_start_from_spawn_s": round(T0_WALL - spawned + done - T0, 4),
        "import_s": round(marks["imported"] - T0, 4),
        "load_s": round(marks["loaded"] - marks["imported"], 4),
        "first_prediction_s": round(done - marks["loaded"], 4),
        "peak_rss_cold_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if not args.cold_only:
        dev = json.load(sys.stdin)
        result.update(measure(predict, dev["sentences"], dev["labels"], args.runs))
        if args.variant == "predictor":  # how much of the load is the manifest's sha256 check (page cache warm)
            from chalice_app.chalicelib.contract.manifest import verify_bundle

            started = time.perf_counter()
            verify_bundle(Path(args.bundle))
            result["verify_bundle_s"] = round(time.perf_counter() - started, 4)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["torch_imported"] = "torch" in sys.modules
    print("BENCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
