"""Pruning a deployment zip: which distributions and files go, which stay, and the probe that proves it still serves.

The zips here are small synthetic packages laid out like Chalice's (dist-info METADATA + RECORD beside the code);
the real package is pruned and probed in tests/integration/test_chalice_package.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from scripts.prune_package import (
    PruneError,
    check,
    main,
    prune,
    prune_site_dir,
    reachable,
    read_distributions,
    read_requirements,
)
from tests.conftest import ROOT

LINUX_312 = {
    "python_version": "3.12",
    "python_full_version": "3.12.1",
    "platform_machine": "x86_64",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}

APP_FILES = {
    "app.py": "from chalice import Chalice\napp = Chalice(app_name='x')\n",
    "chalicelib/__init__.py": "",
    "chalicelib/tests/fixture.txt": "app data that happens to live under tests/",
    "chalice/app.py": "# Chalice's runtime copy, which has no dist-info\n",
}


def dist(name: str, version: str, files: dict[str, str], requires: Sequence[str] = ()) -> dict[str, str]:
    """The files of one installed distribution: its own files, METADATA and a RECORD listing them all."""
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    metadata = "\n".join(["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"])
    metadata += "".join(f"\nRequires-Dist: {req}" for req in requires) + "\n"
    all_files = {**files, f"{dist_info}/METADATA": metadata}
    record = "".join(f"{path},sha256=x,{len(text)}\n" for path, text in all_files.items())
    return {**all_files, f"{dist_info}/RECORD": record + f"{dist_info}/RECORD,,\n"}


PACKAGE = {
    **APP_FILES,
    **dist(
        "tokenizers",
        "0.23.3",
        {"tokenizers/__init__.py": "", "tokenizers/tokenizers.abi3.so": "elf"},
        ["huggingface-hub>=0.16", "pytest ; extra == 'testing'"],
    ),
    **dist(
        "huggingface-hub",
        "2.4.0",
        {"huggingface_hub/__init__.py": "x" * 500},
        ['hf-xet; platform_machine == "x86_64"', "typing-extensions>=4", 'tomli; python_version < "3.11"'],
    ),
    **dist("hf-xet", "1.8.0", {"hf_xet/__init__.py": "", "hf_xet/hf_xet.so": "x" * 2000}),
    **dist("typing-extensions", "4.16.0", {"typing_extensions.py": ""}),
    **dist(
        "numpy",
        "2.4.6",
        {
            "numpy/__init__.py": "",
            "numpy/__init__.pyi": "stub",
            "numpy/LICENSE.txt": "BSD",
            "numpy/_core/tests/test_a.py": "def test(): pass",
            "numpy/_core/tests/LICENSE": "kept: licence files stay",
            "numpy/random/_generator.cpython-312-x86_64-linux-gnu.so": "elf" * 50,
            "numpy/__init__.pxd": "cdef",
            "numpy/_core/_simd.cpython-312-x86_64-linux-gnu.so": "elf",
            "numpy/_core/_umath_tests.cpython-312-x86_64-linux-gnu.so": "elf",
            "numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so": "elf",
            "numpy/linalg/__init__.py": "",
        },
    ),
    **dist(
        "onnxruntime",
        "1.32.0",
        {
            "onnxruntime/__init__.py": "",
            "onnxruntime/capi/onnxruntime_pybind11_state.cpython-312-x86_64-linux-gnu.so": "elf",
            "onnxruntime/capi/libonnxruntime.so.1.32.0": "elf" * 100,
            "onnxruntime/transformers/optimizer.py": "",
            "onnxruntime/ThirdPartyNotices.txt": "notices",
        },
        ["numpy>=1.21", "protobuf", "sympy; extra == 'symbolic'"],
    ),
    **dist("protobuf", "7.36.2", {"google/protobuf/__init__.py": ""}),
    **dist(
        "elasticsearch",
        "9.5.1",
        {
            "elasticsearch/__init__.py": "",
            "elasticsearch/_async/client/__init__.py": "",
            "elasticsearch/_async/helpers.py": "import anyio",
            "elasticsearch/dsl/__init__.py": "import dateutil",
        },
        [
            "anyio",
            "elastic-transport>=9",
            "python-dateutil",
            "sniffio",
            "typing-extensions",
            "aiohttp; extra == 'async'",
        ],
    ),
    **dist("elastic-transport", "9.4.2", {"elastic_transport/__init__.py": ""}, ["sniffio", "urllib3>=2"]),
    **dist("sniffio", "1.3.1", {"sniffio/__init__.py": ""}),
    **dist("urllib3", "2.8.0", {"urllib3/__init__.py": "", "urllib3/contrib/emscripten/fetch.py": ""}),
    **dist("anyio", "4.16.0", {"anyio/__init__.py": ""}, ["idna>=2.8", 'typing_extensions; python_version < "3.15"']),
    **dist("idna", "3.20", {"idna/__init__.py": ""}),
    **dist("python-dateutil", "4.0.0", {"dateutil/__init__.py": ""}, ["tzdata"]),
    **dist("tzdata", "2026.6", {"tzdata/zoneinfo/UTC": "TZif"}),
    **dist("aiohttp", "3.14.5", {"aiohttp/__init__.py": ""}),
}


def write_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def write_requirements(path: Path, *lines: str) -> Path:
    path.write_text("# runtime\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return write_zip(tmp_path / "deployment.zip", PACKAGE)


@pytest.fixture
def requirements(tmp_path: Path) -> Path:
    return write_requirements(
        tmp_path / "requirements.txt", "numpy==2.4.6", "onnxruntime==1.32.0", "tokenizers==0.23.3", "elasticsearch"
    )


def names(zip_path: Path) -> set[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return set(archive.namelist())


def test_the_hub_stack_and_the_shippers_async_and_dsl_dependencies_go(package: Path, requirements: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        dists = read_distributions(archive)
    keep = reachable(dists, read_requirements(requirements), environment=LINUX_312)
    assert keep == {"numpy", "onnxruntime", "tokenizers", "elasticsearch", "elastic-transport", "sniffio", "urllib3"}


def test_an_extra_asked_for_brings_its_dependencies(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        dists = read_distributions(archive)
    roots = read_requirements(write_requirements(package.with_name("r.txt"), "elasticsearch[async]"))
    assert "aiohttp" in reachable(dists, roots, environment=LINUX_312)


def test_without_cut_edges_the_hub_stack_is_reachable(package: Path, requirements: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        dists = read_distributions(archive)
    keep = reachable(dists, read_requirements(requirements), cut=(), environment=LINUX_312)
    assert {"huggingface-hub", "hf-xet", "protobuf", "anyio", "idna", "python-dateutil", "tzdata"} <= keep


def test_prune_removes_unreachable_distributions_and_dropped_paths_only(package: Path, requirements: Path) -> None:
    result = prune(package, requirements)
    after = names(package)
    for gone in (
        "huggingface_hub/__init__.py",
        "hf_xet/hf_xet.so",
        "hf_xet-1.8.0.dist-info/RECORD",
        "google/protobuf/__init__.py",
        "aiohttp/__init__.py",
        "numpy/_core/tests/test_a.py",
        "numpy/__init__.pyi",
        "onnxruntime/capi/libonnxruntime.so.1.32.0",
        "onnxruntime/transformers/optimizer.py",
        "numpy/random/_generator.cpython-312-x86_64-linux-gnu.so",
        "numpy/__init__.pxd",
        "numpy/_core/_simd.cpython-312-x86_64-linux-gnu.so",
        "numpy/_core/_umath_tests.cpython-312-x86_64-linux-gnu.so",
        "elasticsearch/_async/helpers.py",
        "elasticsearch/dsl/__init__.py",
        "urllib3/contrib/emscripten/fetch.py",
        "anyio/__init__.py",
        "idna/__init__.py",
        "dateutil/__init__.py",
        "tzdata/zoneinfo/UTC",
        "typing_extensions.py",
    ):
        assert gone not in after, gone
    for kept in (
        *APP_FILES,
        "numpy/LICENSE.txt",
        "numpy/_core/tests/LICENSE",
        "onnxruntime/ThirdPartyNotices.txt",
        "onnxruntime/capi/onnxruntime_pybind11_state.cpython-312-x86_64-linux-gnu.so",
        "tokenizers/tokenizers.abi3.so",
        "numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so",
        "numpy/linalg/__init__.py",
        "elasticsearch/_async/client/__init__.py",
        "elastic_transport/__init__.py",
        "sniffio/__init__.py",
        "urllib3/__init__.py",
        "numpy-2.4.6.dist-info/METADATA",
    ):
        assert kept in after, kept
    assert set(result.removed_distributions) == {
        *("huggingface-hub", "hf-xet", "protobuf", "aiohttp", "typing-extensions"),
        *("anyio", "idna", "python-dateutil", "tzdata"),
    }
    assert set(result.removed_paths) == {
        "*/tests/*",
        "*.pyi",
        "*.pxd",
        "onnxruntime/capi/libonnxruntime.so*",
        "onnxruntime/transformers/*",
        "numpy/random/*",
        "numpy/_core/_simd.*",
        "numpy/_core/_*_tests.*",
        "elasticsearch/_async/helpers.py",
        "elasticsearch/dsl/*",
        "urllib3/contrib/emscripten/*",
    }
    assert result.unzipped_after < result.unzipped_before
    with zipfile.ZipFile(package) as archive:
        assert archive.read("app.py").decode() == APP_FILES["app.py"]
        assert archive.testzip() is None


def test_a_requirement_the_package_lacks_is_an_error(package: Path, tmp_path: Path) -> None:
    before = package.read_bytes()
    with pytest.raises(PruneError, match=r"requirement scipy==1\.0 is not in the package"):
        prune(package, write_requirements(tmp_path / "r.txt", "numpy", "scipy==1.0"))
    assert package.read_bytes() == before


def test_a_dist_info_without_record_is_an_error(tmp_path: Path, requirements: Path) -> None:
    files = {k: v for k, v in PACKAGE.items() if k != "numpy-2.4.6.dist-info/RECORD"}
    with pytest.raises(PruneError, match=r"numpy-2\.4\.6\.dist-info lacks METADATA or RECORD"):
        prune(write_zip(tmp_path / "deployment.zip", files), requirements)


def test_cli_prints_sizes_and_writes_the_report(package: Path, requirements: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "prune_package.py"), str(package), "--requirements", str(requirements)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "removed hf-xet" in done.stdout
    assert "MB zipped" in done.stdout
    report = json.loads(package.with_name("prune-report.json").read_text())
    removed = set(report["removed_distributions_zipped_mb"])
    assert {"huggingface-hub", "hf-xet", "protobuf", "aiohttp", "tzdata"} <= removed
    assert report["zipped_mb"]["after"] <= report["zipped_mb"]["before"]


def test_cli_refuses_a_missing_zip(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main([str(tmp_path / "nothing.zip")])


PROBE_APP = """
import base64, gzip, json, os, types, urllib.error, urllib.request

shipper = types.SimpleNamespace(SHIPPER=types.SimpleNamespace(reset=lambda: None))

class EsUnavailableError(RuntimeError):
    pass

class {UNAVAILABLE}(RuntimeError):
    pass

class App:
    def __call__(self, event, context):
        status = {STATUS}
        if event["path"] == "/health":
            return {{"statusCode": status, "body": json.dumps({{"model_version": "m-test"}})}}
        texts = json.loads(event["body"])["texts"]
        predictions = [{{"label": "acceptable"}} for _ in texts]
        return {{"statusCode": status, "body": json.dumps({{"predictions": predictions}})}}
app = App()

def ship_logs(event, context):
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    lines = []
    for log_event in payload["logEvents"][{SENT}]:
        lines += [json.dumps({{"create": {{"_index": "app-logs", "_id": log_event["id"]}}}}), json.dumps(log_event)]
    if os.environ.get("SEARCH_BACKEND") == "opensearch":
        headers = {{"Authorization": "Basic " + base64.b64encode(b"probe:probe-password").decode()}}
    else:
        headers = {{"Accept": "application/vnd.elasticsearch+json; compatible-with=8"}}
    request = urllib.request.Request(
        os.environ["ES_URL"] + "/_bulk", data=("\\n".join(lines) + "\\n").encode(), method="PUT", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            items = json.load(answer)["items"]
    except urllib.error.URLError as err:
        raise {UNAVAILABLE}(f"unavailable: {{err}}") from None
    return {{"created": sum(item["create"]["status"] == 201 for item in items)}}
"""


def probe_app(status: int = 200, sent: str = ":", unavailable: str = "EsUnavailableError") -> str:
    """A stand-in app.py (the real one is probed in tests/integration): its answers, lines shipped, error raised."""
    return PROBE_APP.format(STATUS=status, SENT=sent, UNAVAILABLE=unavailable)


def test_check_serves_health_and_predict_and_ships_logs_from_the_unzipped_package(tmp_path: Path) -> None:
    package = write_zip(tmp_path / "ok.zip", {"app.py": probe_app()})
    result = check(package)
    assert result["health_status"] == 200
    assert result["predict_status"] == 200
    assert result["model_version"] == "m-test"
    assert result["labels"] == ["acceptable", "acceptable"]
    assert result["ship_created"] == result["ship_stored"] == 2
    assert str(result["ship_unavailable_error"]).startswith("EsUnavailableError: unavailable:")
    assert result["opensearch_created"] == result["opensearch_stored"] == 2
    assert result["opensearch_authorization"] == "Basic"
    assert result["forbidden_imported"] == []
    assert result["imported_from_package"] == ["app"]


def test_check_fails_when_the_package_does_not_serve(tmp_path: Path) -> None:
    package = write_zip(tmp_path / "broken.zip", {"app.py": probe_app(status=503)})
    with pytest.raises(PruneError, match="does not serve"):
        check(package)


def test_check_fails_when_a_log_line_is_not_stored(tmp_path: Path) -> None:
    package = write_zip(tmp_path / "drops.zip", {"app.py": probe_app(sent=":1")})
    with pytest.raises(PruneError, match=r"did not ship logs as documented.*'ship_stored': 1"):
        check(package)


def test_check_fails_when_an_unreachable_elasticsearch_is_not_the_documented_error(tmp_path: Path) -> None:
    package = write_zip(tmp_path / "other-error.zip", {"app.py": probe_app(unavailable="ShipperCrashed")})
    with pytest.raises(PruneError, match=r"did not ship logs as documented.*ShipperCrashed"):
        check(package)


def test_check_fails_when_a_module_is_missing(tmp_path: Path) -> None:
    package = write_zip(tmp_path / "missing.zip", {"app.py": "import module_the_pruning_removed\n"})
    with pytest.raises(PruneError, match="module_the_pruning_removed"):
        check(package)


SITE_EXTRAS = {
    **dist(
        "chalice",
        "1.34.0",
        {
            "chalice/__init__.py": "from chalice.app import Chalice",
            "chalice/app.py": "",
            "chalice/app.pyi": "stub",
            "chalice/cli/__init__.py": "import click",
            "chalice/deploy/deployer.py": "",
            "chalice/awsclient.py": "import botocore",
            "chalice/policies.json": "{}",
        },
        ["click>=7", "botocore>=1.14", "pyyaml"],
    ),
    **dist(
        "botocore",
        "1.43.117",
        {
            "botocore/__init__.py": "",
            "botocore/data/endpoints.json": "{}",
            "botocore/data/secretsmanager/2017-10-17/service-2.json.gz": "gz",
            "botocore/data/ec2/2016-11-15/service-2.json.gz": "gz" * 500,
        },
    ),
}


SITE_PACKAGE = {name: text for name, text in PACKAGE.items() if name not in APP_FILES}  # the app is in /var/task


def write_site(root: Path, files: dict[str, str]) -> Path:
    """A `pip install --target` directory holding `files`."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def site_names(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_a_site_dir_is_pruned_in_place_by_the_same_rule(tmp_path: Path, requirements: Path) -> None:
    site = write_site(tmp_path / "site", {**SITE_PACKAGE, **SITE_EXTRAS})
    roots = [*read_requirements(requirements), Requirement("chalice"), Requirement("botocore")]
    removed = prune_site_dir(site, roots)
    after = site_names(site)
    gone = {"huggingface_hub/__init__.py", "numpy/_core/tests/test_a.py", "onnxruntime/transformers/optimizer.py"}
    assert gone & after == set()
    assert not (site / "huggingface_hub").exists()  # emptied directories go too
    assert "onnxruntime/capi/libonnxruntime.so.1.32.0" not in after
    assert {"numpy/_core/tests/LICENSE", "tokenizers/tokenizers.abi3.so", "numpy-2.4.6.dist-info/METADATA"} <= after
    assert removed["hf-xet"] == sum(len(v) for k, v in PACKAGE.items() if k.startswith(("hf_xet/", "hf_xet-")))
    # Chalice: installed --no-deps, so its CLI dependencies are cut, and only chalice.app and the package stay.
    assert {p for p in after if p.startswith("chalice/")} == {"chalice/__init__.py", "chalice/app.py"}
    # botocore: the service models of services never called go; Secrets Manager's and the endpoint data stay.
    assert "botocore/data/ec2/2016-11-15/service-2.json.gz" not in after
    assert {"botocore/data/secretsmanager/2017-10-17/service-2.json.gz", "botocore/data/endpoints.json"} <= after


def test_the_site_dir_cli_reports_and_refuses_a_missing_directory(tmp_path: Path, requirements: Path) -> None:
    site = write_site(tmp_path / "site", SITE_PACKAGE)
    assert main(["--site-dir", str(site), "--requirements", str(requirements)]) == 0
    assert "hf_xet/hf_xet.so" not in site_names(site)
    assert main(["--site-dir", str(tmp_path / "none"), "--requirements", str(requirements)]) == 1
    assert main(["--site-dir", str(site), "--requirements", str(requirements), "--also", "scipy"]) == 1
