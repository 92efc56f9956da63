"""The import rules of the workspace (docs/architecture.md, "Which way imports go").

Every module of every package is parsed (not imported) and its imports of workspace modules
collected, including imports inside functions and under `if TYPE_CHECKING:` (a lazy or
type-only import that dodges a cycle at run time is still a cycle of concepts). The test fails on
- a cycle among the modules of a package,
- a lib importing a service, or a service importing another service,
- contracts importing anything of the workspace but itself (it stays pure).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBS = {
    "contracts": ROOT / "libs/contracts/src",
    "zephyr_runtime": ROOT / "libs/zephyr_runtime/src",
}
SERVICES = {
    "poll_api": ROOT / "services/poll-api/src",
    "ws_gateway": ROOT / "services/ws-gateway/src",
    "vote_worker": ROOT / "services/vote-worker/src",
    "audit_sink": ROOT / "services/audit-sink/src",
}
PACKAGES = {**LIBS, **SERVICES}


def _module_name(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    src = PACKAGES[package]
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        if "migrations" in path.relative_to(src).parts:
            continue  # Alembic scripts: loaded by Alembic, never imported
        found[_module_name(src, path)] = path
    return found


ALL_MODULES = {name: path for package in PACKAGES for name, path in _modules(package).items()}


def _resolve(name: str) -> str | None:
    """The workspace module that an imported dotted name refers to (a module or its parent)."""
    while name:
        if name in ALL_MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """The workspace modules that `module` imports."""
    tree = ast.parse(ALL_MODULES[module].read_text(encoding="utf-8"))
    package = module if ALL_MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        else:
            names = []
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycle_inside_a_package(package: str) -> None:
    graph = {m: {t for t in imports_of(m) if _top(t) == package} for m in _modules(package)}
    assert _cycles(graph) == []


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_imports_go_one_way(package: str) -> None:
    allowed = {
        "contracts": {"contracts"},
        "zephyr_runtime": {"contracts", "zephyr_runtime"},
    }.get(package, {"contracts", "zephyr_runtime", package})
    wrong = {
        m: sorted(t for t in imports_of(m) if _top(t) not in allowed) for m in _modules(package)
    }
    assert {m: t for m, t in wrong.items() if t} == {}


def test_the_walk_finds_cycles_and_layer_breaks() -> None:
    """The checks above can fail: a made-up graph with a cycle is caught."""
    assert _cycles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}) == [
        ["a.x", "a.y", "a.z"]
    ]
    assert _cycles({"a.x": {"a.y"}, "a.y": set()}) == []
    assert "zephyr_runtime.settings" in imports_of("zephyr_runtime.service")
    assert "contracts.base" in imports_of("contracts.polls")  # from contracts.base import …
