"""The quality gate: a bundle's evaluation against the floors of conf/gate.yaml.

`python -m export.gate BUNDLE_DIR [--warn-only]` (`make gate`) reads `<bundle>-evaluation.json` (written by
`make evaluate-bundle`), judges it with the floors as they are now, prints every floor as pass/FAIL and exits 1
when one is missed (2 when the bundle or its evaluation cannot be read). `--warn-only` prints the same verdict
and exits 0: `make all` reports it and still finishes with a served bundle.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chalice_app.chalicelib.contract.evaluation import (
    BehaviourReport,
    EvaluationError,
    FloorResult,
    GateVerdict,
    SplitReport,
    evaluation_path,
    load_evaluation,
)
from chalice_app.chalicelib.contract.manifest import BundleError, Manifest, load_manifest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FLOORS = ROOT / "conf" / "gate.yaml"
BEHAVIOUR = "behaviour."


class GateConfigError(ValueError):
    """conf/gate.yaml is malformed; the message names the key."""


@dataclass(frozen=True)
class GateConfig:
    dev_split: str
    floors: dict[str, float]
    """Floor per figure: dev_mcc, int8_agreement and behaviour.<capability>."""


def load_floors(path: Path = DEFAULT_FLOORS) -> GateConfig:
    """Read and check the gate's floors (each a number in [-1, 1] for MCC, [0, 1] for rates)."""
    if not path.is_file():
        raise GateConfigError(f"gate config {path} does not exist")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    floors_raw = raw.get("floors") if isinstance(raw, dict) else None
    if not isinstance(floors_raw, dict) or not isinstance(raw.get("dev_split"), str):
        raise GateConfigError(f"gate config {path} must have dev_split (a split name) and floors (a mapping)")
    flat: dict[str, Any] = {k: v for k, v in floors_raw.items() if k != "behaviour"}
    behaviour = floors_raw.get("behaviour", {})
    if not isinstance(behaviour, dict):
        raise GateConfigError(f"gate config {path}: floors.behaviour must map capabilities to pass-rate floors")
    flat.update({BEHAVIOUR + name: value for name, value in behaviour.items()})
    unknown = sorted(set(flat) - {"dev_mcc", "int8_agreement"} - {k for k in flat if k.startswith(BEHAVIOUR)})
    if unknown:
        raise GateConfigError(f"gate config {path}: unknown floor {unknown[0]!r} (dev_mcc, int8_agreement, behaviour)")
    for name, value in flat.items():
        low = -1.0 if name == "dev_mcc" else 0.0
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= 1:
            raise GateConfigError(f"gate config {path}: floors.{name} must be a number in [{low:g}, 1], got {value!r}")
    return GateConfig(raw["dev_split"], {name: float(value) for name, value in flat.items()})


def served_agreement(manifest: Manifest) -> float | None:
    """The served model's prediction agreement with its reference on the export's parity split: int8 against
    fp32 when int8 is served, fp32 against torch when fp32 is (the manifest's parity section)."""
    parity: dict[str, Any] = dict(manifest.get("parity") or {})
    report = parity.get("int8_vs_fp32") if manifest["serving"]["model_file"].endswith("int8.onnx") else None
    report = report or parity.get("fp32_vs_torch")
    return float(report["prediction_agreement"]) if report else None


def figures(
    splits: dict[str, SplitReport], behaviour: BehaviourReport | None, manifest: Manifest, dev_split: str
) -> dict[str, float | None]:
    """The figure each floor judges (None: not measured)."""
    found: dict[str, float | None] = {
        "dev_mcc": splits[dev_split]["mcc"] if dev_split in splits else None,
        "int8_agreement": served_agreement(manifest),
    }
    for name, capability in (behaviour or {"capabilities": {}})["capabilities"].items():
        found[BEHAVIOUR + name] = capability["pass_rate"]
    return found


def judge(found: dict[str, float | None], config: GateConfig) -> GateVerdict:
    """Each floor against its figure; a figure not measured fails its floor."""
    floors: dict[str, FloorResult] = {}
    for name, floor in config.floors.items():
        value = found.get(name)
        floors[name] = {"floor": floor, "value": value, "passed": value is not None and value >= floor}
    return {"passed": all(f["passed"] for f in floors.values()), "floors": floors}


def verdict_lines(verdict: GateVerdict, bundle_dir: Path, floors_file: Path = DEFAULT_FLOORS) -> list[str]:
    """The verdict as printed: a headline, then each floor with its figure; a missed floor says what to do."""
    missed = [name for name, result in verdict["floors"].items() if not result["passed"]]
    headline = "PASSED" if verdict["passed"] else f"FAILED ({len(missed)} of {len(verdict['floors'])} floors missed)"
    lines = [f"quality gate ({shown(floors_file)}) for {bundle_dir}: {headline}"]
    for name, result in verdict["floors"].items():
        value = "not measured" if result["value"] is None else f"{result['value']:.4f}"
        mark = "pass" if result["passed"] else "FAIL"
        relation = ">=" if result["passed"] else "<"
        line = f"  {mark} {name:<32} {value} {relation} floor {result['floor']:.4f}"
        lines.append(line if result["passed"] else f"{line}: {next_step(name, result, bundle_dir)}")
    return lines


def shown(path: Path) -> Path:
    """A path as printed: relative to the repository when inside it."""
    path = Path(path).resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def next_step(name: str, result: FloorResult, bundle_dir: Path) -> str:
    """What to do about a missed floor."""
    run = bundle_dir.name
    if result["value"] is None:
        return f"not in the evaluation: run make evaluate-bundle RUN={run}"
    if name == "dev_mcc":
        return (
            "the served model is below the floor: retrain (make all) or serve a better run, and compare runs in "
            "bench/results/quality.md"
        )
    if name == "int8_agreement":
        return (
            "int8 departs from fp32: re-export serving fp32 (make export RUN=... ARGS=export.serve_precision=fp32) or "
            "change the int8 settings in conf/export/<model>.yaml"
        )
    capability = name.removeprefix(BEHAVIOUR)
    return (
        f"read its failed cases in {evaluation_path(bundle_dir)} (behaviour.capabilities.{capability}.failures); "
        "retrain or serve another run"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--floors", type=Path, default=DEFAULT_FLOORS, help="the gate config (conf/gate.yaml)")
    parser.add_argument("--warn-only", action="store_true", help="print the verdict, exit 0 whatever it is")
    args = parser.parse_args(argv)
    try:
        config = load_floors(args.floors)
        manifest = load_manifest(args.bundle)
        evaluation = load_evaluation(args.bundle, manifest["model_version"])
    except (GateConfigError, BundleError, EvaluationError) as err:
        print(f"quality gate: cannot judge {args.bundle}: {err}", file=sys.stderr)
        return 0 if args.warn_only else 2
    found = figures(evaluation["splits"], evaluation["behaviour"], manifest, config.dev_split)
    verdict = judge(found, config)
    print("\n".join(verdict_lines(verdict, args.bundle, args.floors)))
    if not verdict["passed"] and not args.warn_only:
        print(f"quality gate FAILED for {args.bundle}: the bundle must not ship (floors: {shown(args.floors)})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
