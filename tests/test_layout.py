"""The package's layout is its architecture: a shared core, two pipelines that never import
each other, models beside them, benchmarks outside; and no import cycles anywhere."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every crystalbench module and the crystalbench modules it imports (anywhere in it)."""
    graph: dict[str, set[str]] = {}
    modules = {module_name(p) for p in SRC.rglob("*.py")}
    for path in SRC.rglob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found |= {n for n in names if n in modules and n.startswith("crystalbench")}
        graph[module_name(path)] = found - {module_name(path)}
    return graph


def branch(module: str) -> str:
    """core, crystal, forces, models; "package" for crystalbench/__init__ (the version);
    "top" for the modules above the branches (cli, config_check); else the package."""
    parts = module.split(".")
    if parts[0] != "crystalbench":
        return parts[0]
    if len(parts) == 1:
        return "package"
    return parts[1] if len(parts) > 2 or parts[1] in ("core", "crystal", "forces", "models") \
        else "top"


def test_branches_import_only_the_core_and_the_models():
    allowed = {  # branch -> branches it may import
        "core": {"core", "package"},
        "models": {"core", "models", "package"},
        "crystal": {"core", "models", "crystal", "package"},
        "forces": {"core", "models", "forces", "package"},
    }
    bad = [(m, i) for m, targets in imports().items() for i in targets
           if branch(m) in allowed and branch(i) not in allowed[branch(m)]]
    assert not bad, bad
    # the package never imports the benchmarks
    assert not [(m, i) for m, t in imports().items() for i in t
                if m.startswith("crystalbench.") and i.startswith("crystalbench_bench")]


def test_there_are_no_import_cycles():
    graph = imports()
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend(path[path.index(nxt):] + [node, nxt] if nxt in path
                             else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*path, node]):
                return True
        state[node] = 2
        return False

    for start in sorted(graph):
        if state.get(start) is None and visit(start, []):
            break
    assert not cycle, " -> ".join(cycle)
