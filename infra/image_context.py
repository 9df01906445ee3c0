"""`make image-context`: stage the Lambda image's build context, laid out like the repository.

It holds only what docker/Dockerfile and docker/Dockerfile.local copy: app.py and every chalicelib module, the
runtime requirements (+ constraints for transitive pins), the pruner of `make package` (scripts/prune_package.py,
run on the image's /opt/python), .chalice/config.json, and the files of the bundle the
predictor loads and verifies (manifest.json, tokenizer.json, the served model file). No Docker engine is needed.
Standard library only (the Makefile runs it with any Python 3).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from chalice_app.chalicelib.contract.manifest import MANIFEST_FILE, TOKENIZER_FILE, BundleError, Manifest, load_manifest

ROOT = Path(__file__).resolve().parents[1]
APP_FILES = ("chalice_app/app.py", "chalice_app/requirements.txt", "chalice_app/.chalice/config.json")
RUNTIME_PINS = "requirements/constraints.txt"
PRUNER = "scripts/prune_package.py"


def context_files(bundle: Path, manifest: Manifest) -> dict[str, Path]:
    """Path in the context -> source file; BundleError when the bundle's served model file is missing."""
    model_file = manifest["serving"]["model_file"]
    if not (bundle / model_file).is_file():
        raise BundleError(f"{bundle} lacks its served model file {model_file}")
    files = {name: ROOT / name for name in (*APP_FILES, RUNTIME_PINS, PRUNER)}
    for module in sorted((ROOT / "chalice_app" / "chalicelib").rglob("*.py")):
        files[str(module.relative_to(ROOT))] = module
    for name in (MANIFEST_FILE, TOKENIZER_FILE, model_file):
        files[f"bundle/{name}"] = bundle / name
    return files


def stage(bundle: Path, context: Path) -> str:
    """Write the context afresh; returns the line `make image-context` prints."""
    manifest = load_manifest(bundle)
    files = context_files(bundle, manifest)
    shutil.rmtree(context, ignore_errors=True)
    for name, source in files.items():
        target = context / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(0o644)
    size_mb = sum(p.stat().st_size for p in context.rglob("*") if p.is_file()) / 1e6
    return (
        f"staged {context} ({size_mb:.0f} MB): model {manifest['model_version']}, {manifest['serving']['model_file']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the context directory (replaced)")
    args = parser.parse_args(argv)
    try:
        print(stage(args.bundle, args.out))
    except BundleError as err:
        print(f"image-context: {err} (BUNDLE=dir picks another bundle)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
