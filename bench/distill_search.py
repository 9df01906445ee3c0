"""A fast search of the student's distillation knobs on a GPU, selected on training sentences held out for it.

Two steps. `prepare` (here, on CPU): the transfer set with each copy's source sentence and copy number, a held-out
part of the training set (never trained on, nor its copies), and the teacher bundle's logits on the rest, written
to a data folder. `run` (on a GPU machine, `make`-less: only torch, transformers and numpy): every configuration
of a grid (conf/bench/distill_search.yaml) times its seeds, several processes sharing the GPU, each training
the student with the project's distillation loss and the recipe's optimiser (AdamW, warmup then linear decay,
clipping) and recording held-out and dev MCC per epoch in a JSON-lines file.

The knobs are chosen on the held-out MCC; dev MCC is reported beside it, so a choice that only suits the dev set
shows. The search mirrors the recipe, not the Lightning code path: the recipe it picks is then run for real with
`make distill` on CPU, and those are the figures the README quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NO_DECAY = ("bias", "LayerNorm.weight", "LayerNorm.bias")
DATA: tuple[dict[str, Any], np.ndarray, np.ndarray] | None = None
FEATURES: tuple[np.ndarray, np.ndarray] | None = None  # the teacher's features on the training sentences, the copies


def mcc(pred: np.ndarray, gold: np.ndarray) -> float:
    """Matthews correlation of binary predictions (0 when a margin is empty, as sklearn and torchmetrics)."""
    tp = float(((pred == 1) & (gold == 1)).sum())
    tn = float(((pred == 0) & (gold == 0)).sum())
    fp = float(((pred == 1) & (gold == 0)).sum())
    fn = float(((pred == 0) & (gold == 1)).sum())
    den = ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) ** 0.5
    return (tp * tn - fp * fn) / den if den else 0.0


def teacher_features(run_model: Path, predictor: Any, sentences: list[str], batch_size: int = 64) -> np.ndarray:
    """The teacher run's classifier-head features (the output layer's input) per sentence, fp16, under bf16 autocast.

    These are the teacher's penultimate activations (768 for MPNet): far more than its two logits per sentence, for
    a feature-matching loss. They come from the run's weights in torch (the distillation's own teacher engine),
    tokenised and batched by the bundle's predictor as its logits are, since the bundle's ONNX graph outputs logits
    only.
    """
    from model_training.distillation.teacher_engine import TorchTeacher
    from model_training.distillation.teacher_logits import compute_logits

    teacher = TorchTeacher(run_model, predictor.pad_id)
    return teacher.split(compute_logits(predictor, sentences, batch_size, teacher.logits_and_features))[1]


def prepare_natural(out: Path, predictor: Any, count: int, seed: int, data: dict[str, Any]) -> None:
    """Add `count` WordNet usage examples (none equal to a training or dev sentence) and their teacher logits."""
    from model_training.distillation.teacher_logits import compute_logits
    from model_training.distillation.wordnet_examples import sample_examples, usage_examples, wordnet_dir

    data["natural"] = sample_examples(usage_examples(wordnet_dir()), count, seed, data["train"] + data["dev"])
    (out / "data.json").write_text(json.dumps(data))
    np.save(out / "logits_natural.npy", compute_logits(predictor, data["natural"], 64))


def prepare(
    out: Path,
    teacher: Path,
    copies: int,
    holdout: int,
    seed: int,
    chunk: int,
    features: Path | None = None,
    natural: int = 0,
) -> None:
    """Write data.json, the teacher's logits on the training sentences and on the copies (in chunks of copy numbers)."""
    sys.path.insert(0, str(ROOT))
    from bench.holdout import held_out_mask
    from chalice_app.chalicelib.api.predictor import Predictor
    from model_training.data.cola import read_cola_tsv
    from model_training.distillation.teacher_logits import compute_logits
    from model_training.distillation.transfer_set import PERTURBATIONS, transfer_copies

    out.mkdir(parents=True, exist_ok=True)
    train = read_cola_tsv(ROOT / "data/cola/raw/in_domain_train.tsv")
    dev = read_cola_tsv(ROOT / "data/cola/raw/in_domain_dev.tsv")
    sentences = [r.sentence for r in train]
    made = transfer_copies(sentences, copies, list(PERTURBATIONS), seed)
    held = held_out_mask(len(sentences), holdout)
    data: dict[str, Any] = {
        "train": sentences,
        "train_labels": [r.label for r in train],
        "holdout": held.tolist(),
        "dev": [r.sentence for r in dev],
        "dev_labels": [r.label for r in dev],
        "copies": [c.text for c in made],
        "copy_src": [c.source for c in made],
        "copy_k": [c.copy for c in made],
    }
    (out / "data.json").write_text(json.dumps(data))
    predictor = Predictor(teacher, model_file="model.onnx")
    np.save(out / "logits_train.npy", compute_logits(predictor, sentences, 64))
    if features is not None:
        np.save(out / "features_train.npy", teacher_features(features, predictor, sentences))
    k = np.array([c.copy for c in made])
    for lo in range(0, copies, chunk):
        rows = np.where((k >= lo) & (k < lo + chunk))[0]
        texts = [made[j].text for j in rows]
        np.save(out / f"logits_copies_{lo}.npy", compute_logits(predictor, texts, 64))
        np.save(out / f"idx_copies_{lo}.npy", rows)
        if features is not None:
            np.save(out / f"features_copies_{lo}.npy", teacher_features(features, predictor, texts))
    if natural:
        prepare_natural(out, predictor, natural, seed, data)


def load(folder: Path) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """data.json and the teacher logits (NaN where a copy's chunk was not computed)."""
    data = json.loads((folder / "data.json").read_text())
    copies = np.full((len(data["copies"]), 2), np.nan, np.float32)
    for index_file in sorted(folder.glob("idx_copies_*.npy")):
        lo = index_file.stem.rsplit("_", 1)[-1]
        copies[np.load(index_file)] = np.load(folder / f"logits_copies_{lo}.npy")
    if (folder / "logits_natural.npy").is_file():
        data["natural_logits"] = np.load(folder / "logits_natural.npy")
    return data, np.load(folder / "logits_train.npy"), copies


def load_features(folder: Path, n_copies: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The teacher's features written by `prepare --features` (NaN where a copy's chunk lacks them), or None."""
    if not (folder / "features_train.npy").is_file():
        return None
    train = np.load(folder / "features_train.npy")
    copies = np.full((n_copies, train.shape[1]), np.nan, np.float16)
    for index_file in sorted(folder.glob("idx_copies_*.npy")):
        lo = index_file.stem.rsplit("_", 1)[-1]
        if (folder / f"features_copies_{lo}.npy").is_file():
            copies[np.load(index_file)] = np.load(folder / f"features_copies_{lo}.npy")
    return train, copies


def train_one(cfg: dict[str, Any]) -> dict[str, Any]:
    """Distil one student with one configuration; held-out and dev MCC after every epoch."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoConfig, AutoModelForSequenceClassification, get_linear_schedule_with_warmup

    sys.path.insert(0, str(ROOT))
    from model_training.distillation.loss import distillation_loss, feature_loss
    from model_training.models.output_layer import output_layer

    assert DATA is not None
    data, logits_train, logits_copies = DATA
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 as on CPU
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device(os.environ.get("DEVICE", "cuda"))
    torch.manual_seed(cfg["seed"])
    student = Path(cfg["student"])
    tokenizer = Tokenizer.from_file(str(student / "tokenizer.json"))
    tokenizer.enable_truncation(cfg["max_length"])
    tokenizer.no_padding()
    held = np.array(data["holdout"])
    kept = np.where(~held)[0]
    texts = [data["train"][i] for i in kept]
    labels = [data["train_labels"][i] for i in kept]
    soft = [logits_train[i] for i in kept]
    feature_weight = float(cfg.get("feature_weight", 0.0))
    if feature_weight and FEATURES is None:
        raise ValueError("feature_weight needs the teacher's features: prepare --features RUN_MODEL")
    rows_used: list[tuple[bool, int]] = [(False, int(i)) for i in kept]  # (is a copy, index) per training example
    allowed = set(kept.tolist())
    for j, (src, k) in enumerate(zip(data["copy_src"], data["copy_k"], strict=True)):
        if k < cfg["copies"] and src in allowed:
            if np.isnan(logits_copies[j, 0]):
                raise ValueError(f"no teacher logits for copy number {k}: prepare more copies")
            texts.append(data["copies"][j])
            labels.append(-1)
            soft.append(logits_copies[j])
            rows_used.append((True, j))
    natural = int(cfg.get("natural", 0))
    if natural:
        if feature_weight:
            raise ValueError("no teacher features for the WordNet sentences: natural needs feature_weight 0")
        if natural > len(data.get("natural", [])):
            raise ValueError(f"natural={natural}: prepare --natural with at least as many sentences")
        texts += data["natural"][:natural]
        labels += [-1] * natural
        soft += list(data["natural_logits"][:natural])
    teacher_feats = (
        np.stack([FEATURES[1][i] if is_copy else FEATURES[0][i] for is_copy, i in rows_used]).astype(np.float32)
        if feature_weight and FEATURES is not None
        else None
    )
    if teacher_feats is not None and np.isnan(teacher_feats).any():
        raise ValueError("teacher features missing for some copies: prepare --features with as many copies")
    if os.environ.get("SMOKE"):
        texts, labels, soft = texts[:64] + texts[-64:], labels[:64] + labels[-64:], soft[:64] + soft[-64:]
        if teacher_feats is not None:
            teacher_feats = np.concatenate([teacher_feats[:64], teacher_feats[-64:]])
    ids = [e.ids for e in tokenizer.encode_batch(texts)]
    gold, soft_targets = np.array(labels), np.array(soft, np.float32)
    splits = {
        "holdout": (
            [data["train"][i] for i in np.where(held)[0]],
            [data["train_labels"][i] for i in np.where(held)[0]],
        ),
        "dev": (data["dev"], data["dev_labels"]),
    }
    if os.environ.get("SMOKE"):
        splits = {name: (t[:64], g[:64]) for name, (t, g) in splits.items()}
    evals = {name: ([e.ids for e in tokenizer.encode_batch(t)], np.array(g)) for name, (t, g) in splits.items()}

    config = AutoConfig.from_pretrained(
        student, num_labels=2, hidden_dropout_prob=cfg["dropout"], attention_probs_dropout_prob=cfg["dropout"]
    )
    model = AutoModelForSequenceClassification.from_pretrained(student, config=config, dtype=torch.float32)
    model.to(device).train()
    captured: list[Any] = []
    projection = None
    if teacher_feats is not None:  # the student's classifier input, mapped to the teacher's feature width
        output_layer(model).register_forward_pre_hook(lambda module, args: captured.append(args[0]))
        projection = torch.nn.Linear(model.config.hidden_size, teacher_feats.shape[1]).to(device)
        feature_scale = float(teacher_feats.var(axis=0).sum())  # the loss is relative to the features' variance
    named = list(model.named_parameters()) + (
        [(f"projection.{n}", p) for n, p in projection.named_parameters()] if projection is not None else []
    )
    groups = [
        {"params": [p for n, p in named if not any(x in n for x in NO_DECAY)], "weight_decay": cfg["weight_decay"]},
        {"params": [p for n, p in named if any(x in n for x in NO_DECAY)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=cfg["lr"], fused=device.type == "cuda")
    batch_size = cfg["batch"]
    total = ((len(ids) + batch_size - 1) // batch_size) * cfg["epochs"]
    schedule = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimizer, int(cfg["warmup_ratio"] * total), total
    )
    rng = np.random.default_rng(cfg["seed"])
    mean_pooling = cfg.get("pooling", "cls") == "mean"

    def logits(x: Any, mask: Any) -> Any:
        """The classifier on the [CLS] pooler (the HF head) or on the mean of the token states, as the sentence
        encoder was trained to be read."""
        if not mean_pooling:
            return model(input_ids=x, attention_mask=mask).logits
        hidden = model.base_model(input_ids=x, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return output_layer(model)(model.dropout((hidden * weights).sum(1) / weights.sum(1)))

    def tensors(rows: np.ndarray, seqs: list[list[int]]) -> tuple[Any, Any]:
        width = max(len(seqs[i]) for i in rows)
        x = np.zeros((len(rows), width), np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for r, i in enumerate(rows):
            x[r, : len(seqs[i])] = seqs[i]
            mask[r, : len(seqs[i])] = 1
        return torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device)

    def evaluate() -> dict[str, float]:
        model.eval()
        scores = {}
        with torch.no_grad():
            for name, (seqs, truth) in evals.items():
                order = np.argsort([len(s) for s in seqs])
                pred = np.zeros(len(seqs), int)
                for s in range(0, len(seqs), 256):
                    rows = order[s : s + 256]
                    x, mask = tensors(rows, seqs)
                    pred[rows] = logits(x, mask).argmax(-1).cpu().numpy()
                    captured.clear()
                scores[name] = round(mcc(pred, truth), 4)
        model.train()
        return scores

    history, start = [], time.time()
    for _ in range(cfg["epochs"]):
        order = rng.permutation(len(ids))
        for s in range(0, len(order), batch_size):
            rows = order[s : s + batch_size]
            x, mask = tensors(rows, ids)
            out = logits(x, mask)
            y = torch.from_numpy(gold[rows]).to(device)
            if cfg["alpha"] == 0:  # the plain student: gold labels only
                loss = (
                    torch.nn.functional.cross_entropy(out[y >= 0], y[y >= 0]) if bool((y >= 0).any()) else out.sum() * 0
                )
            else:
                t = torch.from_numpy(soft_targets[rows]).to(device)
                loss = distillation_loss(out, t, y, cfg["T"], cfg["alpha"])["loss"]
            if projection is not None and teacher_feats is not None:
                target = torch.from_numpy(teacher_feats[rows]).to(device)
                mapped = projection(captured.pop())
                loss = loss + feature_weight * feature_loss(mapped, target, feature_scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in named], cfg["clip"])
            optimizer.step()
            schedule.step()
        history.append(evaluate())
    return {
        **cfg,
        "n_train": len(ids),
        "passes": len(ids) * cfg["epochs"],
        "history": history,
        "seconds": round(time.time() - start, 1),
    }


def _init(
    data: tuple[dict[str, Any], np.ndarray, np.ndarray], features: tuple[np.ndarray, np.ndarray] | None = None
) -> None:
    global DATA, FEATURES
    DATA, FEATURES = data, features


def run(folder: Path, grid_file: Path, out: Path) -> None:
    """Every configuration of the grid times its seeds, longest first, in parallel processes; one JSON line each."""
    import multiprocessing
    import signal

    import yaml

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}: the finished runs are in {out}")

    signal.signal(signal.SIGTERM, stop)  # the pool's exit then terminates the workers

    grid = yaml.safe_load(grid_file.read_text())
    base = {**grid["base"], "student": str(folder / "student")}
    runs = [
        {**base, **change, "name": name, "seed": seed}
        for name, change in grid["configs"].items()
        for seed in grid["seeds"]
    ]
    runs.sort(key=lambda c: -c["epochs"] * (1 + 0.9 * c["copies"]) * 32 / c["batch"])
    data = load(folder)
    features = load_features(folder, len(data[0]["copies"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(runs)} runs on {grid['workers']} processes", flush=True)
    with multiprocessing.get_context("fork").Pool(grid["workers"], _init, (data, features)) as pool, out.open("w") as f:
        for result in pool.imap_unordered(train_one, runs):
            f.write(json.dumps(result) + "\n")
            f.flush()
            last = result["history"][-1]
            print(
                f"{result['seconds']:6.0f}s {result['name']:<16} seed {result['seed']}: held-out {last['holdout']:.3f}"
                f" dev {last['dev']:.3f}",
                flush=True,
            )


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per configuration: runs, mean and sd of the last epoch's held-out and dev MCC, best first by held-out."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_name.setdefault(r["name"], []).append(r)
    rows = []
    for name, runs in by_name.items():
        held = np.array([r["history"][-1]["holdout"] for r in runs])
        dev = np.array([r["history"][-1]["dev"] for r in runs])
        rows.append(
            {
                "name": name,
                "runs": len(runs),
                "holdout": round(float(held.mean()), 4),
                "holdout_sd": round(float(held.std(ddof=1)) if len(runs) > 1 else 0.0, 4),
                "dev": round(float(dev.mean()), 4),
                "dev_sd": round(float(dev.std(ddof=1)) if len(runs) > 1 else 0.0, 4),
                "passes": runs[0]["passes"],
            }
        )
    return sorted(rows, key=lambda row: -row["holdout"])


def combinations(grid: dict[str, Any], results: list[dict[str, Any]], top: int) -> dict[str, Any]:
    """A follow-up grid: the recipe, and the best single changes (by held-out MCC) merged two and three at a time."""
    summary = [row for row in summarise(results) if row["name"] in grid["configs"]]
    baseline = next(row["holdout"] for row in summary if row["name"] == "recipe")
    better = [row["name"] for row in summary if row["holdout"] > baseline and grid["configs"][row["name"]]][:top]
    configs: dict[str, dict[str, Any]] = {"recipe": {}}
    for size in (2, 3):
        for start in range(len(better) - size + 1):
            names = better[start : start + size]
            merged: dict[str, Any] = {}
            for name in reversed(names):  # the better change wins a conflict
                merged.update(grid["configs"][name])
            configs["+".join(names)] = merged
    for name in better:
        configs[name] = grid["configs"][name]
    return {**grid, "configs": configs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="transfer set, held-out split and teacher logits (CPU)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--teacher", type=Path, default=ROOT / "artifacts/bundles/mpnet")
    p.add_argument("--copies", type=int, default=12)
    p.add_argument("--holdout", type=int, default=1000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--chunk", type=int, default=4)
    p.add_argument("--features", type=Path, default=None, help="teacher run's model/: also save its features")
    p.add_argument("--natural", type=int, default=0, help="WordNet usage examples to label with the teacher")
    r = sub.add_parser("run", help="train the grid (GPU)")
    r.add_argument("--data", type=Path, required=True)
    r.add_argument("--grid", type=Path, default=ROOT / "conf/bench/distill_search.yaml")
    r.add_argument("--out", type=Path, default=ROOT / "bench/results/distill_search.jsonl")
    c = sub.add_parser("combine", help="a follow-up grid merging the best single changes of a finished run")
    c.add_argument("--results", type=Path, required=True)
    c.add_argument("--grid", type=Path, default=ROOT / "conf/bench/distill_search.yaml")
    c.add_argument("--top", type=int, default=3)
    c.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("summary", help="print the per-configuration summary of result files")
    s.add_argument("results", type=Path, nargs="+")
    args = parser.parse_args()
    if args.step in ("combine", "summary"):
        import yaml

        files = args.results if args.step == "summary" else [args.results]
        results = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
        if args.step == "summary":
            for row in summarise(results):
                print(json.dumps(row))
        else:
            follow_up = combinations(yaml.safe_load(args.grid.read_text()), results, args.top)
            args.out.write_text(yaml.safe_dump(follow_up, sort_keys=False))
            print(yaml.safe_dump(follow_up["configs"], sort_keys=False))
        return
    if args.step == "prepare":
        prepare(args.out, args.teacher, args.copies, args.holdout, args.seed, args.chunk, args.features, args.natural)
    else:
        run(args.data, args.grid, args.out)


if __name__ == "__main__":
    main()
