"""The serving runtime (chalice_app/) is torch-free: it needs only numpy, onnxruntime and tokenizers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

TRAINING_ONLY = ("torch", "transformers", "lightning", "pytorch_lightning", "datasets", "model_training", "export")
IMPORT_LINE = re.compile(rf"^\s*(?:from|import)\s+({'|'.join(TRAINING_ONLY)})\b", re.MULTILINE)


def test_no_runtime_source_imports_training_code() -> None:
    sources = sorted((ROOT / "chalice_app").rglob("*.py"))
    assert sources, "chalice_app/ has no Python files"
    offending = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in sources
        for match in IMPORT_LINE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offending == []


def test_import_pattern_catches_the_forms_it_must() -> None:
    for line in (
        "import torch",
        "from transformers import AutoModel",
        "    import lightning as L",
        "from export.x import y",
    ):
        assert IMPORT_LINE.search(line), line
    for line in ("import torchvision_free_name_x", "from .export_helpers import y", "# torch is not imported"):
        assert not IMPORT_LINE.search(line), line


@pytest.mark.slow
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
