"""The serving runtime (chalice_app/) is torch-free: it needs only numpy, onnxruntime and tokenizers."""

from __future__ import annotations

import re

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
