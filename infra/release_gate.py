"""The release's gates, run before it assumes any AWS role (.github/workflows/release.yml, job `gates`).

`python -m infra.release_gate lock` refuses a dvc.lock that no longer matches the commit: `dvc status --json`
must report nothing but outputs that are simply not pulled here (the gate runs without credentials, so no DVC
output is present: "not in cache"/"deleted" outputs, and "deleted" dependencies that are other stages' outputs).
A changed command, a modified code or data dependency, a changed parameter or a stage missing from dvc.lock
means the committed model was not built from this code: `make dvc-repro`, `make dvc-push`, commit dvc.lock.

`python -m infra.release_gate quality MANIFEST` refuses a bundle below conf/release.yaml's floors (the served
model's dev MCC and its int8 agreement, from its manifest). The release runs it on release/manifest.json, the
served bundle's manifest committed with dvc.lock (`make release-pin`), since the bundle itself is only in the DVC
remote, which needs credentials; after pulling, `verify-pin` refuses a bundle whose manifest is not byte-identical
to the committed one (its model_version hashes the model files), before anything is built, pushed or deployed.
`make gate` (conf/gate.yaml, branch wt16q) is meant to replace `quality` once it judges a committed evaluation.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
FLOORS_FILE = ROOT / "conf" / "release.yaml"
PIN_FILE = ROOT / "release" / "manifest.json"
NOT_PULLED = frozenset({"not in cache", "deleted"})
FIX_LOCK = "run `make dvc-repro`, `make dvc-push REMOTE=s3`, `make release-pin`, commit dvc.lock and release/, then tag"


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


def load_floors(path: Path = FLOORS_FILE) -> dict[str, float]:
    """conf/release.yaml's floors: dev_mcc in [-1, 1], int8_agreement in [0, 1]."""
    floors = (yaml.safe_load(path.read_text()) or {}).get("floors")
    if not isinstance(floors, dict) or set(floors) != {"dev_mcc", "int8_agreement"}:
        raise GateError(f"{path}: floors must set exactly dev_mcc and int8_agreement")
    for name, low in (("dev_mcc", -1.0), ("int8_agreement", 0.0)):
        value = floors[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= 1:
            raise GateError(f"{path}: floors.{name} must be a number in [{low:g}, 1], got {value!r}")
    return {name: float(value) for name, value in floors.items()}


def served_figures(manifest: Mapping[str, Any]) -> dict[str, float]:
    """The served model's dev MCC and agreement with its reference, from the manifest's parity section."""
    parity = manifest.get("parity") or {}
    model_file = str((manifest.get("serving") or {}).get("model_file", ""))
    report: Any = parity.get("int8_vs_fp32") if model_file.endswith("int8.onnx") else parity.get("fp32_vs_torch")
    try:
        return {
            "dev_mcc": float(report["candidate"]["mcc"]),
            "int8_agreement": float(report["prediction_agreement"]),
        }
    except (KeyError, TypeError, ValueError):
        raise GateError(
            f"the manifest has no parity figures for its served model {model_file or '?'}: re-export the bundle "
            "(make export) so the release can judge it"
        ) from None


def check_quality(manifest_path: Path, floors: Mapping[str, float]) -> dict[str, float]:
    """Raise GateError when a figure is below its floor; return the figures."""
    if not manifest_path.is_file():
        raise GateError(f"{manifest_path} does not exist: {FIX_LOCK}")
    manifest = json.loads(manifest_path.read_text())
    figures = served_figures(manifest)
    below = [f"{name} {figures[name]:.4f} < {floor:.4f}" for name, floor in floors.items() if figures[name] < floor]
    if below:
        raise GateError(
            f"bundle {manifest.get('model_version', '?')} ({manifest.get('run_name', '?')}) is below the release "
            f"floors of conf/release.yaml: {'; '.join(below)}. Ship a better model (train, `make dvc-repro`); lower "
            "a floor only with a recorded reason"
        )
    return figures


def verify_pin(bundle: Path, pin: Path = PIN_FILE) -> None:
    """The pulled bundle's manifest must be the committed one, byte for byte."""
    pulled = bundle / "manifest.json"
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
    quality = sub.add_parser("quality", help="the bundle's figures reach conf/release.yaml's floors")
    quality.add_argument("manifest", type=Path, nargs="?", default=PIN_FILE)
    quality.add_argument("--floors", type=Path, default=FLOORS_FILE)
    pin = sub.add_parser("verify-pin", help="the pulled bundle is the one whose manifest is committed")
    pin.add_argument("bundle", type=Path)
    pin.add_argument("--pin", type=Path, default=PIN_FILE)
    args = parser.parse_args(argv)
    try:
        if args.gate == "lock":
            check_lock(dvc=args.dvc)
            print("release gate: dvc.lock matches this commit")
        elif args.gate == "quality":
            figures = check_quality(args.manifest, load_floors(args.floors))
            print("release gate: " + ", ".join(f"{name} {value:.4f}" for name, value in figures.items()) + ": passed")
        else:
            verify_pin(args.bundle, args.pin)
            print(f"release gate: {args.bundle} is the committed bundle")
    except GateError as err:
        print(f"release gate: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
