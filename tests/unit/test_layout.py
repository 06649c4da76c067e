"""The shape of the `vista` package: programs' workflows in vista.client, the command on top of
them, the emulator only where local mode is asked for."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from vista.project import ROOT


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    """The vista modules a module imports, at the top or inside a function (`from a import b`
    is b where b is a module of a, else a)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for n in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "vista":
            found |= {
                f"{node.module}.{a.name}" if is_module(f"{node.module}.{a.name}") else node.module for a in node.names
            }
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "vista"}
    return found


def test_no_import_cycle_among_vista_modules() -> None:
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (ROOT / "vista").rglob("*.py")
    }
    graph = {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}

    def cycle_from(start: str, path: list[str]) -> list[str] | None:
        for nxt in graph[path[-1]]:
            if nxt == start:
                return [*path, nxt]
            if nxt not in path and (found := cycle_from(start, [*path, nxt])):
                return found
        return None

    cycles = [c for name in graph if (c := cycle_from(name, [name]))]
    assert cycles == []


def test_a_deployed_target_never_loads_the_emulator() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, vista.cli, vista.client, vista.target; print(*sorted(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [m for m in loaded if m.startswith("vista.local")] == []


def test_only_the_entry_point_is_imported_from_the_command() -> None:
    """Programs, the demo, the tests and the benchmarks use vista.client; the command is only run (by
    its entry point, or by typer's test runner on its app)."""
    taken = {
        (str(p.relative_to(ROOT)), alias.name)
        for folder in ("vista", "tests", "benchmarks")
        for p in (ROOT / folder).rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == "vista.cli"
        for alias in node.names
    }
    assert {name for _, name in taken} <= {"main", "app"}, taken


def test_every_test_module_sits_in_a_tier() -> None:
    tiers = {"unit", "integration", "training", "e2e", "deployed"}
    modules = [p.relative_to(ROOT / "tests") for p in (ROOT / "tests").rglob("test_*.py")]
    assert [str(m) for m in modules if m.parts[0] not in tiers] == []
