"""Prove the API answers: start `chalice local` on a bundle, smoke-test it as a deploy does, stop it.

`python scripts/api_smoke.py BUNDLE_DIR` (what `make all` runs after export). Exit 0 only if the server came up,
passed infra.smoke's checks (health, one prediction, the bundle's model version), answered a batch, and printed one
log line per prediction.
"""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.request
from pathlib import Path

from chalice_app.chalicelib.contract.manifest import load_manifest
from devtools.chalice_local import chalice_local
from infra.smoke import SENTENCE, smoke_test

BATCH = [SENTENCE, "Books were sent to each other by the students."]


def main(bundle: Path) -> int:
    version = load_manifest(bundle)["model_version"]
    with tempfile.TemporaryDirectory() as scratch, chalice_local(bundle, Path(scratch) / "chalice.log") as server:
        result = smoke_test(server.base_url, version, attempts=1)
        request = urllib.request.Request(
            server.base_url + "/predict",
            data=json.dumps({"texts": BATCH}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            batch = json.loads(response.read())
        predictions = [line for line in server.stdout_lines() if line.get("type") == "prediction"]
    print(f"health: {result.health}")
    for text, prediction in zip(BATCH, batch["predictions"], strict=True):
        print(f"  {prediction['label']:>12} {prediction['score']:.3f}  {text}")
    problems = list(result.problems)
    if batch.get("model_version") != version or len(batch["predictions"]) != len(BATCH):
        problems.append(f"the batch answer is not {len(BATCH)} predictions of {version}: {batch}")
    if len(predictions) != 1 + len(BATCH):
        problems.append(f"{len(predictions)} prediction log lines for {1 + len(BATCH)} predictions")
    print(f"API smoke test {'passed' if not problems else 'FAILED'}: {len(predictions)} prediction log lines")
    for problem in problems:
        print(f"  - {problem}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
