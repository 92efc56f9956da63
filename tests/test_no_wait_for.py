"""No service or library code calls `asyncio.wait_for` (zephyr_runtime.tasks says why)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wait_for_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        attribute = (
            isinstance(node, ast.Attribute)
            and node.attr == "wait_for"
            and isinstance(node.value, ast.Name)
            and node.value.id == "asyncio"
        )
        imported = (
            isinstance(node, ast.ImportFrom)
            and node.module == "asyncio"
            and any(alias.name == "wait_for" for alias in node.names)
        )
        if attribute or imported:
            lines.append(node.lineno)
    return lines


def test_asyncio_wait_for_is_not_used() -> None:
    sources = [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("libs/*/src/**/*.py")]
    assert len(sources) > 50, "the source tree was not found"
    found = {str(p.relative_to(ROOT)): lines for p in sources if (lines := wait_for_calls(p))}
    assert not found, f"use `async with asyncio.timeout(...)` instead: {found}"


def test_the_check_finds_a_call(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import asyncio\n\nasync def f(x):\n    await asyncio.wait_for(x, 1)\n")
    assert wait_for_calls(sample) == [4]
