"""The repository's Python files each DVC stage runs, from its command's imports, and which its `deps` miss.

A stage's command is a Makefile target; `make -n` shows the `python -m <module>` lines it runs (its entry modules).
From each entry module this walks the import statements (ast, every branch: TYPE_CHECKING and function-level
imports included, so it over-covers rather than misses) through the repository's own packages, and adds the
modules Hydra instantiates by name (`_target_` in the conf/ files the stage depends on). Third-party and standard
library imports are outside the repository and are pinned by requirements/, not by dvc.yaml.

    python -m devtools.stage_deps            # per stage: the files its deps miss (exit 1 when any)

Limits: imports by string (importlib, Hydra `_target_` outside the stage's conf deps) and data files a module
reads are not seen.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_ROOTS = (Path(), Path("chalice_app"))
"""Where top-level imports resolve: the repository root, and chalice_app/ (its code imports `chalicelib.*`)."""
_ENTRY = re.compile(r"(?:^|\s)-m\s+([A-Za-z_][\w.]*)")
_TARGET = re.compile(r"^\s*_target_:\s*([A-Za-z_][\w.]*)\s*$", re.MULTILINE)


class StageDepsError(ValueError):
    """A stage whose command runs no repository module, or a pipeline this module cannot read."""


def load_stages(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """dvc.yaml's stages with `${var}` resolved from its `vars` (the only interpolation dvc.yaml uses here)."""
    pipeline = yaml.safe_load((root / "dvc.yaml").read_text())
    variables: dict[str, Any] = {}
    for entry in pipeline.get("vars", []):
        variables.update(entry)

    def resolve(node: Any) -> Any:
        if isinstance(node, str):
            return re.sub(r"\$\{(\w+)\}", lambda m: str(variables[m.group(1)]), node)
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if isinstance(node, dict):
            return {resolve(k): resolve(v) for k, v in node.items()}
        return node

    stages: dict[str, dict[str, Any]] = resolve(pipeline["stages"])
    return stages


def dep_paths(stage: Mapping[str, Any]) -> list[str]:
    """The stage's deps as repository-relative paths (without a trailing slash)."""
    return [str(d if isinstance(d, str) else next(iter(d))).rstrip("/") for d in stage.get("deps", [])]


def entry_modules(cmd: str, root: Path = ROOT) -> list[str]:
    """The repository modules the command's `make -n` dry run runs with `python -m`, in order."""
    argv = shlex.split(cmd)
    if not argv or argv[0] != "make":
        raise StageDepsError(f"stage command {cmd!r} is not a make target: run the Makefile's, as the others do")
    dry = subprocess.run([*argv, "-n", "STAMP="], cwd=root, capture_output=True, text=True, timeout=60, check=True)
    found = [m for m in _ENTRY.findall(dry.stdout) if module_file(m, root) is not None]
    return list(dict.fromkeys(found))


def module_file(name: str, root: Path = ROOT, base: Path | None = None) -> Path | None:
    """The repository file of a dotted module name (package → its __init__.py), or None when it is not ours."""
    parts = name.split(".")
    for package_root in (base,) if base is not None else PACKAGE_ROOTS:
        stem = root / package_root / Path(*parts)
        for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _package_root(path: Path, root: Path) -> Path:
    """Which PACKAGE_ROOTS entry a file's absolute imports resolve against (chalice_app's own code: chalice_app/)."""
    relative = path.relative_to(root)
    if relative.parts[0] == "chalice_app":
        return Path("chalice_app")
    return Path()


def _imported_names(path: Path, root: Path) -> Iterable[tuple[str, Path | None]]:
    """(dotted name, package root or None for either) of every import statement in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = path.relative_to(root)
    package = list(relative.parent.parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                prefix = ".".join([*anchor, *([node.module] if node.module else [])])
                base: Path | None = Path()
            else:
                prefix, base = node.module or "", None
            yield prefix, base
            for alias in node.names:  # `from pkg import module` names a module as often as an attribute
                yield f"{prefix}.{alias.name}", base


def _with_parents(name: str, root: Path, base: Path | None) -> list[Path]:
    """The module's file and its packages' __init__.py files (importing a.b.c runs a and a.b first)."""
    parts = name.split(".")
    files = []
    for end in range(1, len(parts) + 1):
        found = module_file(".".join(parts[:end]), root, base)
        if found is not None:
            files.append(found)
    return files


def import_closure(modules: Iterable[str], root: Path = ROOT) -> set[Path]:
    """Every repository file the modules import, directly or not (the modules' own files included)."""
    todo = [f for m in modules for f in _with_parents(m, root, None)]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name, base in _imported_names(path, root):
            if base is None:
                base = _package_root(path, root) if name.split(".")[0] == "chalicelib" else None
            todo += [f for f in _with_parents(name, root, base) if f not in seen]
    return seen


def hydra_targets(deps: Iterable[str], root: Path = ROOT) -> list[str]:
    """Modules named by `_target_` in the YAML files under the given deps (what Hydra instantiates)."""
    targets = []
    for dep in deps:
        path = root / dep
        files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path] if path.suffix == ".yaml" else []
        for file in files:
            for target in _TARGET.findall(file.read_text()):
                module = target.rsplit(".", 1)[0]
                if module_file(module, root) is not None:
                    targets.append(module)
    return targets


def covered(path: Path, deps: Iterable[str], root: Path = ROOT) -> bool:
    """Whether a dep is the file itself or a directory above it."""
    relative = path.relative_to(root)
    return any(relative == Path(dep) or Path(dep) in relative.parents for dep in deps)


def stage_files(stage: Mapping[str, Any], root: Path = ROOT) -> set[Path]:
    """The repository's Python files the stage's command runs."""
    modules = entry_modules(str(stage["cmd"]), root)
    if not modules:
        raise StageDepsError(f"{stage['cmd']!r} runs no repository module with `python -m`")
    return import_closure([*modules, *hydra_targets(dep_paths(stage), root)], root)


def missing_deps(stage: Mapping[str, Any], root: Path = ROOT) -> list[str]:
    """Repository-relative files the stage runs that its deps do not cover."""
    deps = dep_paths(stage)
    return sorted(str(p.relative_to(root)) for p in stage_files(stage, root) if not covered(p, deps, root))


def main(argv: list[str] | None = None) -> int:
    """CLI: list each stage's uncovered files; exit 1 when any stage misses one."""
    del argv
    gaps = {name: missing_deps(stage) for name, stage in load_stages().items()}
    for name, files in gaps.items():
        print(f"{name}: {'ok' if not files else 'add to deps: ' + ', '.join(files)}")
    return 1 if any(gaps.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
