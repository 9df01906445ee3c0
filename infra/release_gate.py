"""The release's gates on what a commit pins, run before it assumes any AWS role (release.yml, job `gates`).

`python -m infra.release_gate lock` refuses a dvc.lock that no longer matches the commit: `dvc status --json`
must report nothing but outputs that are simply not pulled here (the gate runs without credentials, so no DVC
output is present: "not in cache"/"deleted" outputs, and "deleted" dependencies that are other stages' outputs).
A changed command, a modified code or data dependency, a changed parameter or a stage missing from dvc.lock
means the committed model was not built from this code: `make dvc-repro`, `make dvc-push`, commit dvc.lock.

The quality floors are `make gate`'s (export/gate.py, conf/gate.yaml). The bundle is only in the DVC remote,
which needs credentials, so `make release-pin` commits the served bundle's manifest and evaluation in release/;
`python -m infra.release_gate unpin RUN` puts them back where `make gate RUN=...` reads them (artifacts/bundles/,
untracked), and after the pull `verify-pin` refuses a bundle whose manifest is not byte-identical to the committed
one (its model_version hashes the model files; the evaluation names that model_version), before anything is
built, pushed or deployed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN_DIR = ROOT / "release"
MANIFEST = "manifest.json"
EVALUATION = "evaluation.json"
NOT_PULLED = frozenset({"not in cache", "deleted"})
FIX_LOCK = "run `make dvc-repro`, `make dvc-push REMOTE=s3`, `make release-pin RUN=...`, commit dvc.lock and release/"


class GateError(Exception):
    """The release must stop; str() says why and what to do."""


def lock_outputs(lock: Mapping[str, Any]) -> set[str]:
    """Every output path dvc.lock records (what a checkout without `dvc pull` lacks)."""
    return {
        str(out["path"]).rstrip("/")
        for stage in (lock.get("stages") or {}).values()
        for out in stage.get("outs", []) + stage.get("metrics", []) + stage.get("plots", [])
    }


def _is_output(path: str, outputs: set[str]) -> bool:
    return any(path == out or path.startswith(out + "/") for out in outputs)


def _not_pulled(kind: str, path: str, state: str, outputs: set[str]) -> bool:
    """An output absent here, or a dependency that is another stage's absent output: expected without a pull."""
    if kind == "changed outs":
        return state in NOT_PULLED
    return kind == "changed deps" and state == "deleted" and _is_output(path, outputs)


def stale_entries(status: Mapping[str, Any], outputs: set[str]) -> list[str]:
    """What in `dvc status --json` says dvc.lock does not match the workspace (absent outputs are not stale)."""
    found: list[str] = []
    for stage, changes in status.items():
        for change in changes:
            if isinstance(change, str):
                found.append(f"{stage}: {change}")
                continue
            for kind, paths in change.items():
                for path, state in paths.items():
                    if isinstance(state, dict):  # a params file: {param: "modified" | "new" | "deleted"}
                        found += [f"{stage}: param {path}:{name} {what}" for name, what in state.items()]
                    elif not _not_pulled(kind, path, state, outputs):
                        found.append(f"{stage}: {kind.removeprefix('changed ')[:-1]} {path} {state}")
    return found


def check_lock(root: Path = ROOT, dvc: str = "dvc") -> None:
    """Raise GateError when dvc.lock is missing or stale (see the module doc)."""
    lock_file = root / "dvc.lock"
    if not lock_file.is_file():
        raise GateError(f"dvc.lock is not committed: nothing pins the model to release; {FIX_LOCK}")
    done = subprocess.run([dvc, "status", "--json"], cwd=root, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise GateError(f"`dvc status` failed: {done.stderr.strip()[-1000:]}")
    status = json.loads(done.stdout or "{}")
    stale = stale_entries(status, lock_outputs(yaml.safe_load(lock_file.read_text()) or {}))
    if stale:
        listed = "\n  ".join(stale)
        raise GateError(f"dvc.lock does not match this commit (`dvc status`):\n  {listed}\n{FIX_LOCK}")


def unpin(run: str, pin: Path = PIN_DIR, bundles: Path = ROOT / "artifacts" / "bundles") -> Path:
    """Copy the committed manifest and evaluation to artifacts/bundles/RUN and RUN-evaluation.json (for make gate)."""
    missing = [path for path in (pin / MANIFEST, pin / EVALUATION) if not path.is_file()]
    if missing:
        raise GateError(f"{missing[0]} is not committed: nothing says what quality the release ships; {FIX_LOCK}")
    bundle = bundles / run
    bundle.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pin / MANIFEST, bundle / MANIFEST)
    shutil.copyfile(pin / EVALUATION, bundles / f"{run}-evaluation.json")
    return bundle


def verify_pin(bundle: Path, pin: Path = PIN_DIR) -> None:
    """The pulled bundle's manifest must be the committed one, byte for byte."""
    pulled = bundle / MANIFEST
    pin = pin / MANIFEST
    if not pulled.is_file():
        raise GateError(f"{pulled} does not exist: the pull did not bring the bundle dvc.lock pins")
    if not pin.is_file() or pin.read_bytes() != pulled.read_bytes():
        raise GateError(
            f"{pulled} is not the manifest committed in {pin.relative_to(ROOT) if pin.is_relative_to(ROOT) else pin}:"
            f" the gate judged another bundle than dvc.lock pins; {FIX_LOCK}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: 0 passed, 1 refused (the reason on stderr)."""
    parser = argparse.ArgumentParser(prog="python -m infra.release_gate", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="gate", required=True)
    lock = sub.add_parser("lock", help="dvc.lock matches the commit (dvc status)")
    lock.add_argument("--dvc", default="dvc", help="the dvc executable")
    unpin_parser = sub.add_parser("unpin", help="release/'s manifest and evaluation → artifacts/bundles/RUN")
    unpin_parser.add_argument("run")
    pin = sub.add_parser("verify-pin", help="the pulled bundle is the one whose manifest is committed")
    pin.add_argument("bundle", type=Path)
    pin.add_argument("--pin", type=Path, default=PIN_DIR)
    args = parser.parse_args(argv)
    try:
        if args.gate == "lock":
            check_lock(dvc=args.dvc)
            print("release gate: dvc.lock matches this commit")
        elif args.gate == "unpin":
            print(f"release gate: the committed bundle description is in {unpin(args.run)} (make gate RUN={args.run})")
        else:
            verify_pin(args.bundle, args.pin)
            print(f"release gate: {args.bundle} is the committed bundle")
    except GateError as err:
        print(f"release gate: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
