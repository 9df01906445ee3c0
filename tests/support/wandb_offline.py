"""Read the records of an offline W&B run file (run-*.wandb) without network or a W&B account.

The file is ':W&B' + 3 header bytes, then a LevelDB-style log: 32 KiB blocks of records, each with a 7-byte
header (crc32c, little-endian length, type: 1 full, 2 first, 3 middle, 4 last) around a protobuf `Record`.
wandb 0.31 dropped its Python reader, so the tests carry this small one.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32 * 1024
HEADER = 7
FILE_HEADER = 7


def iter_records(path: str | Path) -> Iterator[pb.Record]:
    """Yield every protobuf Record in a run-*.wandb file."""
    data = Path(path).read_bytes()
    if not data.startswith(b":W&B"):
        raise ValueError(f"{path}: not a W&B run file")
    pos, pending = FILE_HEADER, b""
    while pos + HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < HEADER:
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        payload = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 0 and length == 0:
            continue
        pending += payload
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def logged_keys(path: str | Path) -> dict[str, set[str]]:
    """Keys seen per record kind: history, summary, config; artifact names under 'artifact'."""
    keys: dict[str, set[str]] = {"history": set(), "summary": set(), "config": set(), "artifact": set()}
    for record in iter_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            keys["history"].update(item.key or "/".join(item.nested_key) for item in record.history.item)
        elif kind == "summary":
            keys["summary"].update(item.key or "/".join(item.nested_key) for item in record.summary.update)
        elif kind == "config":
            keys["config"].update(item.key for item in record.config.update)
        elif kind == "artifact":
            keys["artifact"].add(f"{record.artifact.type}:{record.artifact.name}")
    return keys


def config_values(path: str | Path) -> dict[str, object]:
    """The run's config as logged (last value of each top-level key, JSON-decoded)."""
    import json

    values: dict[str, object] = {}
    for record in iter_records(path):
        if record.WhichOneof("record_type") == "config":
            for item in record.config.update:
                values[item.key] = json.loads(item.value_json)
    return values
