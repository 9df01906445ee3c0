"""tests/ is laid out like the code and by kind, and the directory decides the markers.

unit/ (fast, no servers), integration/ (real servers), container/, data/, model/ (a smoke model or a real bundle);
under unit/ and model/ the directories mirror the code packages. tests/conftest.py marks each test by its
directory, so no file under unit/ or data/ writes a slow or integration marker. Shared fixtures and helpers live in
conftest.py files and tests/support/ only: no module imports a test module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import MARKS_BY_DIRECTORY, ROOT, TESTS, directory_of, pytest_collection_modifyitems

KINDS = ("unit", "integration", "container", "data", "model")
FAST_KINDS = ("unit", "data")
SELECTING_MARKS = ("slow", "integration")  # what `make test-fast` deselects
MARKER = re.compile(rf"\bmark\s*\.\s*({'|'.join(SELECTING_MARKS)})\b")

CODE_PACKAGES: dict[str, Path | None] = {
    "chalice_app": ROOT / "chalice_app" / "chalicelib",  # tests/unit/chalice_app/api <-> chalicelib/api
    "export": ROOT / "export",
    "model_training": ROOT / "model_training",
    "monitoring": ROOT / "monitoring",
    "infra": ROOT / "infra",
    "bench": ROOT / "bench",
    "scripts": ROOT / "scripts",
    "devtools": ROOT / "devtools",
    "project": None,  # the repository as a whole (Makefile, workflows, this layout): no subdirectories
}


def python_files(under: Path = TESTS) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "__pycache__" not in p.parts)


def directories_under(under: Path) -> list[Path]:
    return sorted(p for p in under.rglob("*") if p.is_dir() and p.name != "__pycache__")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def is_shared(module: str) -> bool:
    """conftest modules and tests/support are where shared fixtures and helpers live."""
    return module.split(".")[-1] == "conftest" or module == "tests.support" or module.startswith("tests.support.")


def test_every_test_module_lives_under_a_kind() -> None:
    misplaced = [
        str(p.relative_to(ROOT))
        for p in python_files()
        if p.name.startswith("test_") and p.relative_to(TESTS).parts[0] not in KINDS
    ]
    assert misplaced == []


def test_every_kind_exists_and_every_directory_is_a_package() -> None:
    assert all((TESTS / kind).is_dir() for kind in KINDS)
    missing = [
        str(d.relative_to(ROOT))
        for d in [TESTS, *directories_under(TESTS)]
        if any(d.glob("*.py")) and not (d / "__init__.py").is_file()
    ]
    assert missing == []


@pytest.mark.parametrize("kind", FAST_KINDS)
def test_fast_directories_write_no_selecting_marker(kind: str) -> None:
    """Markers come from the directory; one written here would drop the test from `make test-fast`."""
    offending = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in python_files(TESTS / kind)
        for m in MARKER.finditer(p.read_text(encoding="utf-8"))
    ]
    assert offending == []


def test_the_marker_pattern_catches_the_forms_it_must() -> None:
    for name in SELECTING_MARKS:
        for line in (f"pytestmark = pytest.mark.{name}", f"@pytest.mark.{name}", f"{name} = pytest.mark . {name}"):
            assert MARKER.search(line), line
    assert not MARKER.search("@pytest.mark.parametrize('slow', [1])")


@pytest.mark.parametrize("kind", ["unit", "model"])
def test_directories_mirror_the_code(kind: str) -> None:
    """tests/<kind>/<package>/<sub>/... exists only where <package>'s code has <sub>/... (chalice_app: chalicelib)."""
    wrong = []
    for directory in directories_under(TESTS / kind):
        package, *sub = directory.relative_to(TESTS / kind).parts
        code = CODE_PACKAGES.get(package)
        if package not in CODE_PACKAGES or (sub and (code is None or not code.joinpath(*sub).is_dir())):
            wrong.append(str(directory.relative_to(ROOT)))
    assert wrong == []


def test_code_packages_named_here_exist() -> None:
    assert [name for name, path in CODE_PACKAGES.items() if path is not None and not path.is_dir()] == []


def test_each_directory_sets_its_markers() -> None:
    assert MARKS_BY_DIRECTORY == {
        "unit": (),
        "data": (),
        "model": ("slow",),
        "integration": ("integration",),
        "container": ("integration", "slow"),
    }
    # `-m "not slow and not integration"` keeps exactly the fast kinds
    fast = [kind for kind, marks in MARKS_BY_DIRECTORY.items() if not set(marks) & set(SELECTING_MARKS)]
    assert sorted(fast) == sorted(FAST_KINDS)


class FakeItem:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.marks: list[str] = []

    def add_marker(self, name: str) -> None:
        self.marks.append(name)


def test_the_hook_marks_by_directory() -> None:
    items = {kind: FakeItem(TESTS / kind / "pkg" / "test_x.py") for kind in KINDS}
    outside = FakeItem(ROOT / "elsewhere" / "test_y.py")
    pytest_collection_modifyitems([*items.values(), outside])  # type: ignore[list-item]
    assert {kind: tuple(item.marks) for kind, item in items.items()} == MARKS_BY_DIRECTORY
    assert outside.marks == []
    assert directory_of(TESTS / "conftest.py") is None


def test_the_items_of_this_session_carry_their_directorys_markers(request: pytest.FixtureRequest) -> None:
    """Whatever this run collected (all of tests/, or what `-m` kept): the real hook's marks, none written extra."""
    wrong = []
    for item in request.session.items:
        kind = directory_of(item.path)
        marks = {m.name for m in item.iter_markers() if m.name in SELECTING_MARKS}
        expected = set(MARKS_BY_DIRECTORY.get(kind or "", ()))
        # integration tests may also be slow (written in their files); other kinds carry exactly their set
        if not (marks == expected or (kind == "integration" and marks == {"integration", "slow"})):
            wrong.append(f"{item.nodeid}: {sorted(marks)}")
    assert wrong == []


def imported_modules(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [node.module if node.level == 0 else f"<relative>.{node.module}"]
            # `from tests.support import x` names the package; `from tests.unit.a import test_b` names a module
            found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name.startswith("test_")]
    return found


def test_no_module_imports_a_test_module() -> None:
    """So a fixture or helper defined in a test module is that module's own."""
    offending = [
        f"{p.relative_to(ROOT)}: {name}"
        for p in python_files()
        for name in imported_modules(p)
        if name.startswith("<relative>") or (name.split(".")[0] == "tests" and name != "tests" and not is_shared(name))
    ]
    assert offending == []


def plugins_of(conftest: Path) -> list[str]:
    for node in ast.parse(conftest.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytest_plugins" for t in node.targets):
            value = ast.literal_eval(node.value)
            return [value] if isinstance(value, str) else list(value)
    return []


def test_fixture_plugins_come_from_support() -> None:
    plugins = [name for conftest in TESTS.rglob("conftest.py") for name in plugins_of(conftest)]
    assert "tests.support.bundle_fixtures" in plugins
    assert [name for name in plugins if not name.startswith("tests.support.")] == []


def test_support_is_no_test_directory() -> None:
    names = [p.name for p in python_files(TESTS / "support")]
    assert [name for name in names if name.startswith("test_") or name == "conftest.py"] == []
