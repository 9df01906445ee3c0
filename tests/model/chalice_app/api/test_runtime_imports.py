"""The serving runtime (chalice_app/) is torch-free: a fresh interpreter predicts with the real smoke bundle
without loading any training library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT


def test_fresh_interpreter_predicts_without_loading_training_libraries(smoke_bundle: Path) -> None:
    code = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from chalice_app.chalicelib.api.predictor import Predictor

        predictor = Predictor(Path({str(smoke_bundle)!r}))
        predictions = predictor.predict(["The cat sat on the mat.", "Cat the mat on sat."])
        heavy = {{"torch", "transformers", "lightning", "pytorch_lightning", "datasets", "onnx",
                 "model_training", "export", "hydra", "omegaconf", "torchmetrics", "wandb"}}
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
        print(json.dumps({{"loaded": loaded, "predictions": [p.as_dict() for p in predictions]}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert len(result["predictions"]) == 2
    assert all(p["label"] in ("acceptable", "unacceptable") for p in result["predictions"])
