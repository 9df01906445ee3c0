"""Prune a Chalice deployment package (or the Lambda image's site directory) to what the API needs, then prove the
pruned package still serves.

`chalice package` installs the whole dependency closure of chalice_app/requirements.txt, and part of it the
runtime never imports (measured with the probe's sys.modules under python3.12: serving a prediction imports only
chalice, numpy, onnxruntime and tokenizers; shipping logs adds elasticsearch, elastic_transport, urllib3 and
sniffio, or with SEARCH_BACKEND=opensearch opensearchpy, requests, idna, dateutil, six and events; numpy's lazily
loaded random, fft, polynomial, ma, testing and f2py are never imported). This removes
  - the distributions that nothing reaches from the requirements once the edges in CUT_EDGES are cut, found from
    the package's own *.dist-info metadata (Requires-Dist, markers evaluated for the packaging interpreter);
  - files of the remaining distributions that match DROP_PATHS (test suites, type stubs, build-time headers,
    ONNX Runtime's offline tools and its C API library, numpy and elasticsearch submodules never imported),
    except licence files.
The archive is rewritten at the highest deflate level. Shared libraries are not stripped: `strip` corrupts the
auditwheel-patched ones (numpy's OpenBLAS failed to load: "ELF load command address/offset not page-aligned").
Files that belong to no distribution (app.py, chalicelib/, Chalice's runtime copy) are never touched.

`--check` unzips the result and runs scripts/package_probe.py on it under this interpreter without site-packages:
it imports app.py, answers GET /health and POST /predict through the Chalice app object, as Lambda calls it, and
runs the ship_logs function through the Elasticsearch client (stored, then the documented error when unreachable).

`--site-dir DIR` applies the same rule to a `pip install --target DIR` tree in place: docker/Dockerfile runs it on
/opt/python, with the runtime client and Chalice as extra roots (`--also awslambdaric --also chalice`).

    python scripts/prune_package.py DEPLOYMENT_ZIP [--requirements chalice_app/requirements.txt] [--check]
    python scripts/prune_package.py --site-dir /opt/python --requirements requirements.txt --also awslambdaric
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).resolve().with_name("package_probe.py")
MB = 1_000_000

CUT_EDGES: dict[tuple[str, str], str] = {
    ("tokenizers", "huggingface-hub"): "only Tokenizer.from_pretrained reaches the Hub; the runtime uses from_file",
    ("onnxruntime", "protobuf"): "used by onnxruntime's offline tools (with onnx), not by `import onnxruntime`",
    ("onnxruntime", "flatbuffers"): "used by onnxruntime.tools (ORT-format conversion) only",
    ("onnxruntime", "packaging"): "imported by onnxruntime.backend only (which needs onnx, not packaged)",
    ("elasticsearch", "anyio"): "imported by elasticsearch._async.helpers and .dsl only; the shipper uses the sync "
    "client (anyio's idna goes with it: urllib3 imports idna only for a non-ASCII host name)",
    ("elasticsearch", "python-dateutil"): "imported by elasticsearch.dsl only (tzdata goes with it; botocore, for "
    "the Secrets Manager path, finds the Lambda runtime's own dateutil)",
    ("elasticsearch", "typing-extensions"): "imported by elasticsearch.dsl only (urllib3 under TYPE_CHECKING only)",
    ("requests", "charset-normalizer"): "requests (which opensearch-py's signer imports) uses it for "
    "Response.apparent_encoding only, never called on the urllib3 path; its absence is a warning, silenced by "
    "chalicelib/shipper/opensearch_api.py",
    ("python-dateutil", "tzdata"): "dateutil 4 reads it (importlib.resources, ImportError handled) only when tz.gettz "
    "asks for a zone the system lacks; opensearch-py imports dateutil for its DSL's date fields and never calls gettz",
    ("chalice", "*"): "the image installs Chalice --no-deps: the app imports chalice.app, which needs the standard "
    "library only; the dependencies serve Chalice's CLI (the zip carries a runtime copy without metadata instead)",
}
"""(distribution, dependency) edges the runtime never follows, each with the reason; `*` stands for every one."""

DROP_PATHS: dict[str, str] = {
    "*/tests/*": "test suites",
    "*/__pycache__/*": "bytecode caches",
    "*.pyi": "type stubs",
    "onnxruntime/capi/libonnxruntime.so*": "C API library; the Python extension links ONNX Runtime statically",
    "onnxruntime/tools/*": "offline model tools",
    "onnxruntime/transformers/*": "offline transformer graph optimiser",
    "onnxruntime/quantization/*": "offline quantization (export/ quantizes the bundle)",
    "onnxruntime/datasets/*": "sample models",
    "onnxruntime/backend/*": "ONNX backend API; needs onnx, which is not packaged",
    # numpy 2 imports these on attribute access only (numpy.__getattr__); neither the app nor onnxruntime asks.
    "numpy/random/*": "random generators (lazy numpy submodule, never used: measured with the probe)",
    "numpy/fft/*": "FFT (lazy numpy submodule, never used)",
    "numpy/polynomial/*": "polynomials (lazy numpy submodule, never used)",
    "numpy/ma/*": "masked arrays (lazy numpy submodule, never used)",
    "numpy/f2py/*": "Fortran wrapper generator, a build tool",
    "numpy/testing/*": "numpy's test helpers (lazy numpy submodule, never used)",
    "numpy/_core/_simd.*": "SIMD test/introspection extension, imported by numpy's tests only",
    "numpy/_core/_*_tests.*": "C test extensions, imported by numpy's tests only",
    "numpy/_core/include/*": "C headers, for building extensions",
    "numpy/_core/lib/*": "static npymath library and pkg-config files, for building extensions",
    "*.pxd": "Cython declarations, for building extensions",
    "numpy/_pyinstaller/*": "PyInstaller hook",
    "elasticsearch/dsl/*": "the DSL (imported by `import elasticsearch.dsl` only; needs dateutil, not packaged)",
    "elasticsearch/esql/*": "the ES|QL query builder (imported by `import elasticsearch.esql` only)",
    "elasticsearch/helpers/*": "bulk/scan helpers; the shipper calls client.bulk itself",
    "elasticsearch/_async/helpers.py": "async helpers; need anyio, not packaged",
    "urllib3/contrib/emscripten/*": "urllib3 for Pyodide (browser) only",
    "opensearchpy/_async/client/*": "the async client (imported only when aiohttp is installed; it is not packaged)",
    "opensearchpy/_async/plugins/*": "the async client's plugin APIs (same)",
    "opensearchpy/_async/transport.py": "the async transport (same)",
    "opensearchpy/_async/http_aiohttp.py": "the aiohttp connection (same)",
    "opensearchpy/_async/helpers/[!_a]*": "async DSL helpers (document, search, ...): never imported; "
    "_async/helpers/actions.py stays, opensearchpy.helpers imports it",
    # The image's Chalice distribution (the zip's runtime copy is app.py and __init__.py already).
    "chalice/[!_a]*": "Chalice's CLI, deployer, local server and templates: `import chalice` loads chalice.app only",
    "chalice/analyzer.py": "Chalice's policy analyser (CLI)",
    "chalice/awsclient.py": "Chalice's AWS client (CLI)",
    # The image's boto3 (the zip uses the Lambda runtime's own): the shipper makes one Secrets Manager client.
    "botocore/data/*/*": "service models of the AWS services the runtime never calls (KEEP_PATHS keeps one)",
    "boto3/data/*": "boto3 resource models (boto3.resource only; the shipper uses boto3.client)",
}
"""Path patterns (fnmatch, `*` crosses `/`) removed from the distributions that stay, each with the reason."""

KEEP_PATHS: dict[str, str] = {
    "botocore/data/secretsmanager/*": "the shipper reads its Elasticsearch key from Secrets Manager "
    "(ES_API_KEY_SECRET_ID)",
}
"""Exceptions to DROP_PATHS (fnmatch), each with the reason."""

LICENSE_FILE = re.compile(r"(LICEN[CS]E|COPYING|NOTICE|ThirdPartyNotices|AUTHORS)", re.IGNORECASE)


class PruneError(RuntimeError):
    """The package cannot be pruned safely (metadata missing, a requirement not packaged)."""


@dataclass
class Distribution:
    """One installed distribution in the package: its dependencies and the files its RECORD lists."""

    name: str
    dist_info: str
    requires: list[Requirement]
    files: set[str] = field(default_factory=set)


@dataclass
class PruneResult:
    """What was removed, and the sizes before and after."""

    removed_distributions: dict[str, int]
    removed_paths: dict[str, int]
    zipped_before: int
    zipped_after: int
    unzipped_before: int
    unzipped_after: int

    def summary(self) -> dict[str, object]:
        """JSON-ready figures in MB."""
        return {
            "zipped_mb": {"before": round(self.zipped_before / MB, 1), "after": round(self.zipped_after / MB, 1)},
            "unzipped_mb": {
                "before": round(self.unzipped_before / MB, 1),
                "after": round(self.unzipped_after / MB, 1),
            },
            "removed_distributions_zipped_mb": {k: round(v / MB, 2) for k, v in self.removed_distributions.items()},
            "removed_paths_zipped_mb": {k: round(v / MB, 2) for k, v in self.removed_paths.items()},
        }


class PackageTree(Protocol):
    """What pruning reads from a package: its file names (relative, `/`-separated) and their bytes."""

    def namelist(self) -> list[str]: ...

    def read(self, name: str) -> bytes: ...


class SiteDir:
    """A `pip install --target` directory read as a PackageTree (a zipfile.ZipFile is the other kind)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def namelist(self) -> list[str]:
        return sorted(str(p.relative_to(self.root).as_posix()) for p in self.root.rglob("*") if not p.is_dir())

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


def read_distributions(archive: PackageTree) -> dict[str, Distribution]:
    """The distributions in the package by canonical name, from each *.dist-info/METADATA and RECORD."""
    names = set(archive.namelist())
    dists: dict[str, Distribution] = {}
    for dist_info in sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}):
        metadata_path, record_path = f"{dist_info}/METADATA", f"{dist_info}/RECORD"
        if metadata_path not in names or record_path not in names:
            raise PruneError(f"{dist_info} lacks METADATA or RECORD: cannot tell which files it owns")
        metadata = archive.read(metadata_path).decode("utf-8")
        name = next((line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Name:")), "")
        if not name:
            raise PruneError(f"{metadata_path} has no Name field")
        requires = [
            Requirement(line.split(":", 1)[1].strip())
            for line in metadata.splitlines()
            if line.startswith("Requires-Dist:")
        ]
        record = archive.read(record_path).decode("utf-8").splitlines()
        files = {line.rsplit(",", 2)[0] for line in record if line.strip()}
        dists[canonicalize_name(name)] = Distribution(name, dist_info, requires, files | {metadata_path, record_path})
    return dists


def read_requirements(path: Path) -> list[Requirement]:
    """The requirements of a requirements file (comments and blank lines skipped, no options)."""
    lines = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [Requirement(line) for line in lines if line]


def reachable(
    dists: dict[str, Distribution],
    roots: Iterable[Requirement],
    cut: Iterable[tuple[str, str]] = CUT_EDGES,
    environment: dict[str, str] | None = None,
) -> set[str]:
    """Canonical names of the distributions reachable from `roots` without crossing `cut`.

    Markers are evaluated for `environment` (default: this interpreter, the one Chalice packaged for), with the
    extras each distribution was asked for. A root missing from the package is an error; a missing transitive
    dependency is reported on stderr (the package was built without it, so pruning cannot make it worse).
    """
    env = {key: str(value) for key, value in (environment or default_environment()).items()}
    cut_edges = {(canonicalize_name(a), b if b == "*" else canonicalize_name(b)) for a, b in cut}
    queue: list[tuple[str | None, Requirement]] = [
        (None, req) for req in roots if req.marker is None or req.marker.evaluate({**env, "extra": ""})
    ]
    seen: set[tuple[str, frozenset[str]]] = set()
    for _, req in queue:
        if canonicalize_name(req.name) not in dists:
            raise PruneError(f"requirement {req} is not in the package: was it built from these requirements?")
    while queue:
        parent, req = queue.pop()
        name = canonicalize_name(req.name)
        if parent is not None and ((parent, name) in cut_edges or (parent, "*") in cut_edges):
            continue
        if name not in dists:
            print(f"prune: {parent} wants {req}, which is not in the package", file=sys.stderr)
            continue
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        for dep in dists[name].requires:
            extras = req.extras or {""}
            if dep.marker is None or any(dep.marker.evaluate({**env, "extra": extra}) for extra in extras):
                queue.append((name, dep))
    return {name for name, _ in seen}


def paths_to_drop(dists: dict[str, Distribution], keep: set[str], names: Iterable[str]) -> dict[str, str]:
    """Archive paths to remove, each with its reason (a removed distribution or a DROP_PATHS pattern)."""
    owner = {path: name for name, dist in dists.items() for path in dist.files}
    drop: dict[str, str] = {}
    for path in names:
        name = owner.get(path)
        if name is None:
            continue
        if name not in keep:
            drop[path] = f"distribution {dists[name].name}"
        elif not LICENSE_FILE.search(path.rsplit("/", 1)[-1]) and not any(fnmatch.fnmatch(path, p) for p in KEEP_PATHS):
            pattern = next((p for p in DROP_PATHS if fnmatch.fnmatch(path, p)), None)
            if pattern is not None:
                drop[path] = pattern
    return drop


def prune(zip_path: Path, requirements: Path) -> PruneResult:
    """Rewrite `zip_path` without the paths `paths_to_drop` finds.

    The new archive is written at the highest deflate level next to the old one, then moved over it.
    """
    zipped_before = zip_path.stat().st_size
    removed_dists: dict[str, int] = {}
    removed_paths: dict[str, int] = {}
    tmp = zip_path.with_suffix(".pruning.zip")
    with zipfile.ZipFile(zip_path) as archive, zipfile.ZipFile(tmp, "w") as out:
        infos = archive.infolist()
        unzipped_before = sum(info.file_size for info in infos)
        dists = read_distributions(archive)
        keep = reachable(dists, read_requirements(requirements))
        drop = paths_to_drop(dists, keep, (info.filename for info in infos))
        for info in infos:
            reason = drop.get(info.filename)
            if reason is not None:
                bucket = removed_dists if reason.startswith("distribution ") else removed_paths
                key = reason.removeprefix("distribution ")
                bucket[key] = bucket.get(key, 0) + info.compress_size
                continue
            data = archive.read(info)
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.external_attr, copy.create_system = info.external_attr, info.create_system
            out.writestr(copy, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    tmp.replace(zip_path)
    with zipfile.ZipFile(zip_path) as pruned:
        unzipped_after = sum(info.file_size for info in pruned.infolist())
    return PruneResult(
        removed_distributions=dict(sorted(removed_dists.items(), key=lambda kv: -kv[1])),
        removed_paths=dict(sorted(removed_paths.items(), key=lambda kv: -kv[1])),
        zipped_before=zipped_before,
        zipped_after=zip_path.stat().st_size,
        unzipped_before=unzipped_before,
        unzipped_after=unzipped_after,
    )


def prune_site_dir(site: Path, roots: list[Requirement]) -> dict[str, int]:
    """Delete, in place, the files of `site` (a `pip install --target` directory) that `paths_to_drop` finds for
    `roots`, then the directories left empty; bytes removed per reason (a distribution's name or a DROP_PATHS
    pattern)."""
    tree = SiteDir(site)
    names = tree.namelist()
    dists = read_distributions(tree)
    drop = paths_to_drop(dists, reachable(dists, roots), names)
    removed: dict[str, int] = {}
    for name, reason in drop.items():
        path = site / name
        key = reason.removeprefix("distribution ")
        removed[key] = removed.get(key, 0) + path.stat().st_size
        path.unlink()
    for directory in sorted((p for p in site.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(directory.iterdir()):
            directory.rmdir()
    return dict(sorted(removed.items(), key=lambda kv: -kv[1]))


def check(zip_path: Path, python: str = sys.executable) -> dict[str, object]:
    """Unzip the package and run the probe on it with `python -S` (the package and the stdlib only)."""
    with tempfile.TemporaryDirectory(prefix="package-check-") as tmp:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MODEL_", "VIRTUAL_ENV"))}
        done = subprocess.run(
            [python, "-S", str(PROBE), tmp], env={**env, "PYTHONDONTWRITEBYTECODE": "1"}, capture_output=True, text=True
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    if done.returncode != 0 or not lines:
        output = (done.stdout + done.stderr)[-4000:]
        raise PruneError(f"the pruned package does not serve (exit {done.returncode}):\n{output}")
    result: dict[str, object] = json.loads(lines[-1].removeprefix("PROBE "))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zip", type=Path, nargs="?", help="deployment.zip written by `chalice package`")
    parser.add_argument("--site-dir", type=Path, help="prune this `pip install --target` directory instead, in place")
    parser.add_argument("--also", action="append", default=[], help="another root requirement (repeatable)")
    parser.add_argument("--requirements", type=Path, default=ROOT / "chalice_app" / "requirements.txt")
    parser.add_argument("--check", action="store_true", help="then import the app and serve from the pruned zip")
    parser.add_argument("--report", type=Path, help="write the figures as JSON (default: next to the zip)")
    args = parser.parse_args(argv)
    if args.site_dir is not None:
        return main_site_dir(args.site_dir, args.requirements, args.also)
    if args.zip is None:
        parser.error("name the deployment zip, or --site-dir DIR")
    if not args.zip.is_file():
        parser.error(f"{args.zip} does not exist: run `chalice package` (make package) first")
    try:
        result = prune(args.zip, args.requirements)
        report: dict[str, object] = {"package": str(args.zip), **result.summary()}
        if args.check:
            report["check"] = check(args.zip)
    except PruneError as err:
        print(f"prune: {err}", file=sys.stderr)
        return 1
    for name, size in result.removed_distributions.items():
        print(f"  removed {name}: {size / MB:.2f} MB zipped")
    for pattern, size in result.removed_paths.items():
        print(f"  removed {pattern} ({DROP_PATHS[pattern]}): {size / MB:.2f} MB zipped")
    print(
        f"pruned {args.zip}: {result.zipped_before / MB:.1f} → {result.zipped_after / MB:.1f} MB zipped, "
        f"{result.unzipped_before / MB:.1f} → {result.unzipped_after / MB:.1f} MB unzipped"
        + (" (checked: imports, serves and ships logs)" if args.check else "")
    )
    report_path = args.report or args.zip.with_name("prune-report.json")
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def main_site_dir(site: Path, requirements: Path, also: list[str]) -> int:
    """`--site-dir`: prune in place and print what went; 1 with the reason when it cannot be done safely."""
    if not site.is_dir():
        print(
            f"prune: {site} is not a directory: install the requirements there first (pip install --target)",
            file=sys.stderr,
        )
        return 1
    try:
        before = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        removed = prune_site_dir(site, read_requirements(requirements) + [Requirement(r) for r in also])
    except PruneError as err:
        print(f"prune: {err}", file=sys.stderr)
        return 1
    for reason, size in removed.items():
        print(f"  removed {reason}: {size / MB:.2f} MB")
    print(f"pruned {site}: {before / MB:.1f} → {(before - sum(removed.values())) / MB:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
