"""Bundle files: the serving tokenizer, and the move of a finished staging directory into place in one step.

The manifest and the drift reference are written through chalice_app/chalicelib/contract/ (the typed formats).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tokenizers import Tokenizer

from chalice_app.chalicelib.contract.manifest import TokenizerSection


def write_serving_tokenizer(source: Path, target: Path, max_length: int) -> TokenizerSection:
    """Save tokenizer.json with truncation set for serving and padding off (the predictor pads batches).

    The tokenizer saved after training keeps training-time settings (and MPNet's upstream one pads to 128 with
    pad id 1), so both are set explicitly here. Returns what the manifest records about it.
    """
    tokenizer = Tokenizer.from_file(str(source))
    tokenizer.enable_truncation(max_length)
    tokenizer.no_padding()
    tokenizer.save(str(target))
    config_file = source.parent / "tokenizer_config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    pad_token = config.get("pad_token", "[PAD]")
    unk_token = config.get("unk_token", "[UNK]")
    pad_token = pad_token["content"] if isinstance(pad_token, dict) else pad_token
    unk_token = unk_token["content"] if isinstance(unk_token, dict) else unk_token
    pad_id = tokenizer.token_to_id(pad_token)
    if pad_id is None:
        raise ValueError(f"{source}: pad token {pad_token!r} is not in the vocabulary")
    return {"max_length": max_length, "pad_id": pad_id, "unk_id": tokenizer.token_to_id(unk_token)}


def publish(staging: Path, target: Path) -> None:
    """Replace `target` with the finished staging directory (same filesystem, so the rename is atomic)."""
    if target.exists():
        retired = target.with_name(f".{target.name}.old")
        shutil.rmtree(retired, ignore_errors=True)
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(target)
