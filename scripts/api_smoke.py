"""Prove the API answers: start `chalice local` on a bundle, call /health and /predict, stop it.

`python scripts/api_smoke.py BUNDLE_DIR` (what `make all` runs after export). Exit 0 only if the server came up,
answered a single and a batch prediction with the bundle's model version, and printed one log line per prediction.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ["The book was written by John.", "Books were sent to each other by the students."]


def call(url: str, payload: Any | None = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main(bundle: Path) -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chalice = Path(sys.executable).parent / "chalice"
    env = {**os.environ, "MODEL_DIR": str(bundle.resolve())}
    with tempfile.TemporaryFile() as out:
        server = subprocess.Popen(
            [str(chalice), "local", "--stage", "local", "--port", str(port), "--no-autoreload"],
            cwd=ROOT / "chalice_app",
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(120):
                try:
                    health = call(f"{base}/health")
                    break
                except OSError:
                    if server.poll() is not None:
                        raise SystemExit("chalice local exited early") from None
                    time.sleep(0.5)
            else:
                raise SystemExit("chalice local did not answer /health within 60 s")
            single = call(f"{base}/predict", {"text": SENTENCES[0]})
            batch = call(f"{base}/predict", {"texts": SENTENCES})
        finally:
            server.terminate()
            server.wait(timeout=10)
        out.seek(0)
        lines = [json.loads(line) for line in out.read().decode().splitlines() if line.startswith("{")]
    predictions = [line for line in lines if line.get("type") == "prediction"]
    print(f"health: {health}")
    for text, prediction in zip(SENTENCES, batch["predictions"], strict=True):
        print(f"  {prediction['label']:>12} {prediction['score']:.3f}  {text}")
    ok = (
        health.get("model_version") == single["model_version"] == batch["model_version"]
        and len(batch["predictions"]) == 2
        and len(predictions) == 3
    )
    print(f"API smoke test {'passed' if ok else 'FAILED'}: {len(predictions)} prediction log lines")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
