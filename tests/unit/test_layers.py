"""kit's house: each folder imports only the folders below it, and no module imports in a loop."""

from __future__ import annotations

import ast
from pathlib import Path

KIT = Path(__file__).resolve().parents[2] / "kit"
FLOORS = ["util", "spec", "sources", "runtime", "engine", "report", "flows", "cli"]


def imports() -> dict[str, set[str]]:
    """module -> the kit modules it imports (kit.engine.classify -> {kit.spec.model, ...})."""
    names = {".".join(p.relative_to(KIT.parent).with_suffix("").parts).removesuffix(".__init__")
             for p in KIT.rglob("*.py")}
    out: dict[str, set[str]] = {}
    for path in KIT.rglob("*.py"):
        me = ".".join(path.relative_to(KIT.parent).with_suffix("").parts).removesuffix(
            ".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith("kit."):
                for alias in node.names:
                    whole = f"{node.module}.{alias.name}"
                    found.add(whole if whole in names else node.module)
        out[me] = found - {me}
    return out


def floor(module: str) -> int:
    """Its folder's floor; kit/__init__ (the version) is below all, __main__ above all."""
    part = module.split(".")[1] if module.count(".") else ""
    return FLOORS.index(part) if part in FLOORS else len(FLOORS) if part == "__main__" else -1


def test_every_module_lives_in_a_folder_with_its_job_said() -> None:
    loose = [p.name for p in KIT.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert loose == []
    for folder in FLOORS:
        doc = ast.get_docstring(ast.parse((KIT / folder / "__init__.py").read_text()))
        assert doc and len(doc.splitlines()) <= 2, folder


def test_no_import_runs_from_a_lower_floor_to_a_higher_one() -> None:
    back = [f"{a} -> {b}" for a, bs in imports().items() for b in bs if floor(b) > floor(a)]
    assert back == []


def test_no_import_loops() -> None:
    graph = imports()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module in done:
            return
        for dep in graph.get(module, ()):
            visit(dep, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_the_core_knows_nothing_of_click() -> None:
    for path in KIT.rglob("*.py"):
        if "cli" not in path.relative_to(KIT).parts:
            assert "import click" not in path.read_text(), path
