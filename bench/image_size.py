"""`make bench-image`: the Lambda image layer by layer, what each layer holds, and its cold start.

Builds the image of BUNDLE with `make image` on the debootstrap Debian slim base (bench/lambda_container.py: a
Docker engine found or started, no registry), then for it and for any `--before` image already in the engine:
`docker history` (every layer's instruction and size), the largest entries of the layers the Dockerfile adds
(/opt/python, /var/task), `docker image inspect` Size against conf/image.yaml's budget, and cold starts of fresh
containers run as Lambda runs them (read-only root, tmpfs /tmp, 1 GiB): init (`docker run` → the runtime client's
first poll of the Runtime API, its imports done) and first answer (`docker run` → the first /predict answer: model
load and one prediction included). Writes bench/results/image_size.{json,md}.

    python -m bench.image_size --bundle artifacts/bundles/<run> [--before cola-before:latest] [--starts 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench import lambda_container as lc
from bench.machine import machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BUDGET_MB = float(yaml.safe_load((ROOT / "conf" / "image.yaml").read_text())["size_budget_mb"])
FIRST_BODY = json.dumps({"text": "The book was written by John."}).encode()
# Sizes of the top-level entries of the directories the Dockerfile adds, measured inside the image.
DU = """
import json, os, sys
out = {}
for root in sys.argv[1:]:
    for entry in os.scandir(root):
        size = entry.stat(follow_symlinks=False).st_size if not entry.is_dir(follow_symlinks=False) else sum(
            os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(entry.path) for f in fs)
        out[entry.path] = size
print(json.dumps(out))
"""


def history(env: dict[str, str], image: str) -> list[dict[str, Any]]:
    """The image's layers, newest first: instruction and size in bytes (`docker history`)."""
    raw = lc.docker("history", "--no-trunc", "--human=false", "--format", "{{json .}}", image, env=env)
    rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
    return [{"id": r["ID"], "created_by": r["CreatedBy"], "size_bytes": int(r["Size"])} for r in rows]


def contents(env: dict[str, str], image: str) -> dict[str, int]:
    """Bytes per top-level entry of /opt/python, /var/task and the bundle directory, largest first."""
    raw = lc.docker(
        "run", "--rm", "--network=none", "--entrypoint", "python3", image, "-c", DU,
        "/opt/python", "/var/task", "/var/task/chalicelib/bundle", env=env,
    )  # fmt: skip
    sizes: dict[str, int] = json.loads(raw)
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def cold_start(env: dict[str, str], image: str) -> dict[str, float]:
    """Init and first-answer seconds of one fresh container."""
    started_wall = time.time()
    with lc.started_container(env, image, FIRST_BODY) as container:
        polled = container.api.first_poll_wall
        init = round(polled - started_wall, 3) if polled is not None else float("nan")
        return {"init_s": init, "first_answer_s": round(container.cold_start_s, 3)}


def base_of(env: dict[str, str], layers: list[dict[str, Any]]) -> str:
    """The tag of the image the oldest layer belongs to (the base), or its id when untagged."""
    oldest = layers[-1]["id"]
    tags = json.loads(lc.docker("image", "inspect", oldest, env=env))[0].get("RepoTags") or []
    return str(tags[0]) if tags else oldest


def measure(env: dict[str, str], images: list[str], starts: int) -> list[dict[str, Any]]:
    """Everything the report shows about each image; cold starts in rounds (one per image each, in turn), so the
    images share the machine's load as it varies."""
    runs: dict[str, list[dict[str, float]]] = {image: [] for image in images}
    for _ in range(starts):
        for image in images:
            runs[image].append(cold_start(env, image))
    results = []
    for image in images:
        layers = history(env, image)
        results.append(
            {
                "image": image,
                "base": base_of(env, layers),
                "size_bytes": lc.image_size_bytes(env, image),
                "layers": layers,
                "contents": contents(env, image),
                "cold_starts": runs[image],
                "init_median_s": round(statistics.median(r["init_s"] for r in runs[image]), 3),
                "first_answer_median_s": round(statistics.median(r["first_answer_s"] for r in runs[image]), 3),
            }
        )
    return results


def mb(size: int) -> str:
    return f"{size / 1e6:.1f}"


def short(instruction: str) -> str:
    """A layer's instruction without the builder's `/bin/sh -c #(nop)` noise, cut to fit a table cell."""
    text = instruction.replace("/bin/sh -c #(nop) ", "").replace("|", "\\|").strip() or "(imported base root)"
    return text if len(text) <= 90 else text[:87] + "..."


def holds(layer: dict[str, Any], result: dict[str, Any]) -> str:
    """What a layer holds: the base's tag for the oldest one, else the largest entries under its COPY destination."""
    if layer is result["layers"][-1]:
        return f"the base image {result['base']}"
    destination = layer["created_by"].rsplit(" in ", 1)[-1].strip()
    inside = [(path, size) for path, size in result["contents"].items() if path.startswith(destination + "/")]
    return ", ".join(f"{path.removeprefix(destination + '/')} {mb(size)}" for path, size in inside[:8])


def layer_table(result: dict[str, Any]) -> list[str]:
    lines = [
        f"#### {result['image']}: {mb(result['size_bytes'])} MB",
        "",
        "| layer (oldest first) | MB | holds (MB) |",
        "|---|---|---|",
    ]
    for layer in reversed(result["layers"]):
        if layer["size_bytes"]:
            lines.append(f"| `{short(layer['created_by'])}` | {mb(layer['size_bytes'])} | {holds(layer, result)} |")
    return [*lines, ""]


def report(results: list[dict[str, Any]], command: str, machine: dict[str, Any], note: str = "") -> str:
    """The markdown results file."""
    lines = [
        "# The Lambda image: size layer by layer and cold start",
        "",
        f"Command: `{command}`",
        "",
        f"Budget (conf/image.yaml): {BUDGET_MB:.0f} MB, `docker image inspect` Size, base included.",
        "",
        *([note, ""] if note else []),
        "| image | MB | within budget | init median s | first answer median s | runs (init / first answer s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        runs = ", ".join(f"{c['init_s']}/{c['first_answer_s']}" for c in r["cold_starts"])
        within = "yes" if r["size_bytes"] / 1e6 <= BUDGET_MB else "no"
        lines.append(
            f"| {r['image']} | {mb(r['size_bytes'])} | {within} | {r['init_median_s']} | "
            f"{r['first_answer_median_s']} | {runs} |"
        )
    lines += [
        "",
        "Cold start, per fresh container run as Lambda runs it (read-only root, tmpfs /tmp, 1 GiB), images taken in "
        "turn each round: init = `docker run` → the runtime client's first poll of the Runtime API (interpreter, "
        "awslambdaric, the app's imports); first answer = `docker run` → the first POST /predict answered (model "
        "load and one prediction included).",
        "",
        "### Layers (`docker history`; layers of 0 bytes, metadata only, left out)",
        "",
    ]
    for r in results:
        lines += layer_table(r)
    lines += [
        f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs (a KVM guest whose CPUs other jobs share: "
        f"cold starts vary with their load), load average at start {machine['load_average_at_start']}, "
        f"{machine['platform']}. Full description in the JSON file.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--before", action="append", default=[], help="an image already in the engine to compare")
    parser.add_argument("--starts", type=int, default=5, help="fresh containers per image (default 5)")
    parser.add_argument("--note", default="", help="a paragraph for the report (how a --before image was built)")
    parser.add_argument("--out", type=Path, default=RESULTS / "image_size")
    args = parser.parse_args(argv)
    if args.starts < 1:
        parser.error("--starts must be at least 1")
    given = argv if argv is not None else sys.argv[1:]
    shown = [a for i, a in enumerate(given) if a != "--note" and (i == 0 or given[i - 1] != "--note")]
    command = "python -m bench.image_size " + " ".join([*shown, "--note '...'"] if args.note else shown)
    try:
        with lc.docker_engine() as env:
            image = lc.build_image(env, args.bundle)
            results = measure(env, [*args.before, image], args.starts)
    except lc.ContainerError as err:
        print(f"bench-image: {err}")
        return 1
    machine = machine_info([], starts=args.starts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"command": command, "machine": machine, "images": results}, indent=2) + "\n"
    )
    args.out.with_suffix(".md").write_text(report(results, command, machine, args.note))
    print(
        f"wrote {args.out.with_suffix('.md')}: " + ", ".join(f"{r['image']} {mb(r['size_bytes'])} MB" for r in results)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
