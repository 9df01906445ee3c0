"""`make package` for real on the session's smoke bundle: the Lambda deployment package for the python3.12 runtime.

Chalice builds the package for the Python it runs under, so `make package` uses its own Python 3.12 venv
(.venv-package, created on first use) and downloads manylinux wheels of the runtime dependencies from PyPI.
The package goes to a tmp dir; the bundle copied into chalice_app/chalicelib/bundle is removed by the target.
The target prunes what the runtime never imports (scripts/prune_package.py); the pruned package is unzipped here
and serves /health and /predict under .venv-package's Python 3.12 with no site-packages, and its ship_logs function
stores log lines through the Elasticsearch client and raises the documented error once the endpoint is gone
(scripts/package_probe.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.python312 import find_python312
from scripts.prune_package import LICENSE_FILE
from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MB = 1_000_000
MAX_UNZIPPED_BYTES = 250 * MB  # Lambda limit for a function and its layers, unzipped
MAX_ZIPPED_BYTES = 50 * MB  # Lambda direct upload (`chalice deploy`; Chalice checks 50 MiB, this is the stricter)
ORT_EXTENSION = "onnxruntime/capi/onnxruntime_pybind11_state.cpython-312-x86_64-linux-gnu.so"
FORBIDDEN_TOP_LEVEL = ("torch", "transformers", "lightning", "pytorch_lightning")
PRUNED_TOP_LEVEL = (
    *("hf_xet", "huggingface_hub", "yaml", "fsspec", "google"),  # pulled by tokenizers/onnxruntime
    *("anyio", "tzdata", "typing_extensions.py"),  # pulled by elasticsearch (async, dsl) and python-dateutil
    "charset_normalizer",  # pulled by requests (opensearch-py), used only for Response.apparent_encoding
)
NEVER_IMPORTED = ("numpy/random/", "numpy/fft/", "numpy/f2py/", "elasticsearch/dsl/", "opensearchpy/_async/client/")
PACKAGE_TIMEOUT_S = 900


@dataclass(frozen=True)
class Package:
    out_dir: Path
    zip_path: Path
    template: Path
    names: frozenset[str]
    zipped_bytes: int
    unzipped_bytes: int
    make_output: str


@pytest.fixture(scope="module")
def package(smoke_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Package:
    python312 = find_python312()
    if python312 is None:
        pytest.skip("python3.12 is not installed: `make package` needs it to build for the python3.12 Lambda runtime")
    out_dir = tmp_path_factory.mktemp("package") / "dev"
    # Chalice caches each deployment zip in .chalice/deployments (~70 MB, keyed by app content): drop the new ones.
    cache = ROOT / ".chalice" / "deployments"
    cached_before = set(cache.glob("*.zip"))
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    result = subprocess.run(
        ["make", "package", f"PYTHON312={python312}", f"BUNDLE={smoke_bundle}", f"PACKAGE_OUT={out_dir}", "STAGE=dev"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=PACKAGE_TIMEOUT_S,
    )
    output = result.stdout + result.stderr
    for new_zip in set(cache.glob("*.zip")) - cached_before:
        new_zip.unlink()
    assert result.returncode == 0, f"make package failed ({result.returncode}):\n{output[-6000:]}"
    assert not (ROOT / "chalice_app" / "chalicelib" / "bundle").exists(), "the copied bundle was not removed"
    zip_path = out_dir / "deployment.zip"
    assert zip_path.is_file(), f"no deployment.zip in {out_dir}: {sorted(p.name for p in out_dir.iterdir())}"
    with zipfile.ZipFile(zip_path) as archive:
        infos = archive.infolist()
    pkg = Package(
        out_dir=out_dir,
        zip_path=zip_path,
        template=out_dir / "sam.json",
        names=frozenset(info.filename for info in infos),
        zipped_bytes=zip_path.stat().st_size,
        unzipped_bytes=sum(info.file_size for info in infos),
        make_output=output,
    )
    print(f"deployment.zip: {pkg.zipped_bytes / MB:.1f} MB zipped, {pkg.unzipped_bytes / MB:.1f} MB unzipped")
    return pkg


def test_package_fits_lambda_unzipped_limit(package: Package) -> None:
    assert package.unzipped_bytes <= MAX_UNZIPPED_BYTES, f"{package.unzipped_bytes / MB:.1f} MB unzipped"


def test_package_fits_the_direct_upload_limit(package: Package) -> None:
    assert package.zipped_bytes <= MAX_ZIPPED_BYTES, f"{package.zipped_bytes / MB:.1f} MB zipped"


def test_package_size_is_reported(package: Package) -> None:
    assert "MB zipped" in package.make_output
    assert "MB unzipped" in package.make_output


def test_runtime_dependencies_are_built_for_python312_manylinux(package: Package) -> None:
    assert ORT_EXTENSION in package.names
    assert any(n.startswith("numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu") for n in package.names)
    assert any(n.startswith("tokenizers/tokenizers.") and n.endswith(".so") for n in package.names)
    assert not any("cpython-311" in n for n in package.names)


def test_package_carries_the_served_bundle_only(package: Package, smoke_bundle: Path) -> None:
    manifest = json.loads((smoke_bundle / "manifest.json").read_text())
    model_file = manifest["serving"]["model_file"]
    bundle = {n.removeprefix("chalicelib/bundle/") for n in package.names if n.startswith("chalicelib/bundle/")}
    assert bundle == {"manifest.json", "tokenizer.json", model_file}
    assert "app.py" in package.names


def test_package_has_no_training_stack(package: Package) -> None:
    tops = {n.split("/", 1)[0] for n in package.names}
    assert not tops & set(FORBIDDEN_TOP_LEVEL), sorted(tops & set(FORBIDDEN_TOP_LEVEL))


def test_cfn_lint_passes_on_template(package: Package) -> None:
    assert package.template.is_file()
    result = subprocess.run(
        [str(ROOT / ".venv-package" / "bin" / "cfn-lint"), str(package.template)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_is_pruned_of_what_the_runtime_never_imports(package: Package) -> None:
    tops = {n.split("/", 1)[0] for n in package.names}
    assert not tops & set(PRUNED_TOP_LEVEL), sorted(tops & set(PRUNED_TOP_LEVEL))
    assert not any(n.startswith("onnxruntime/capi/libonnxruntime.so") for n in package.names)
    assert not any(n.startswith(("numpy/", "onnxruntime/")) and "/tests/" in n for n in package.names)
    leftovers = [n for n in package.names if n.startswith(NEVER_IMPORTED) and not LICENSE_FILE.search(n)]
    assert leftovers == [], "only their licence files stay"
    assert any(n.startswith("numpy/linalg/") for n in package.names), "numpy imports linalg eagerly: it must stay"
    assert "onnxruntime/ThirdPartyNotices.txt" in package.names
    report = json.loads((package.out_dir / "prune-report.json").read_text())
    assert report["zipped_mb"]["after"] < report["zipped_mb"]["before"]
    assert "hf-xet" in report["removed_distributions_zipped_mb"]
    assert report["check"]["predict_status"] == 200
    assert report["check"]["ship_created"] == report["check"]["ship_stored"] > 0
    assert "pruned" in package.make_output


def test_pruned_package_serves_under_python312_without_site_packages(
    package: Package, smoke_bundle: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(package.zip_path) as archive:
        archive.extractall(tmp_path / "task")
    python312 = ROOT / ".venv-package" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MODEL_"))}
    done = subprocess.run(
        [str(python312), "-S", str(ROOT / "scripts" / "package_probe.py"), str(tmp_path / "task")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    probe = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("PROBE ")).split(" ", 1)[1])
    assert probe["python"].startswith("3.12.")
    assert (probe["health_status"], probe["predict_status"]) == (200, 200)
    assert probe["model_version"] == json.loads((smoke_bundle / "manifest.json").read_text())["model_version"]
    assert len(probe["labels"]) == 2
    assert probe["ship_created"] == probe["ship_stored"] == 2
    assert probe["ship_unavailable_error"].startswith("EsUnavailableError: Elasticsearch at http://127.0.0.1:")
    assert {"elasticsearch", "elastic_transport", "urllib3"} <= set(probe["imported_from_package"])
    assert probe["opensearch_created"] == probe["opensearch_stored"] == 2
    assert probe["opensearch_authorization"] == "Basic"
    assert {"opensearchpy", "requests", "idna", "dateutil"} <= set(probe["imported_from_package"])
    assert probe["forbidden_imported"] == []
