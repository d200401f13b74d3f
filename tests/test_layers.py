"""The import graph keeps its direction (docs/architecture.md, "Layout"): `model` at the bottom, `policies` and
`connectors` on it and blind to each other, `jobs` above them, `gomme` (the composition root) on top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Part → the parts it must never import.
FORBIDDEN: dict[str, set[str]] = {
    "model": {"connectors", "policies", "jobs", "state", "gomme.commands", "gomme.cli", "gomme.wiring"},
    "policies": {"connectors", "jobs", "state", "gomme.commands", "gomme.cli", "gomme.wiring"},
    "connectors": {"policies", "jobs", "state", "gomme.commands", "gomme.cli", "gomme.wiring"},
    "state": {"connectors", "policies", "jobs", "gomme.commands", "gomme.cli", "gomme.wiring"},
}


def imports_of(path: Path) -> set[str]:
    """The gomme modules a file imports (absolute imports; the code uses no relative ones)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name.removeprefix("gomme.") for name in found if name == "gomme" or name.startswith("gomme.")}


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_a_part_never_imports_the_parts_above_or_beside_it(part: str) -> None:
    crossings = [
        f"{path.relative_to(ROOT)} imports gomme.{name}"
        for path in sorted((ROOT / part).rglob("*.py"))
        for name in imports_of(path)
        if any(name == other or name.startswith(other + ".") for other in FORBIDDEN[part])
    ]
    assert not crossings, "\n".join(crossings)


def test_the_check_sees_a_crossing() -> None:
    # The scan itself works: policies/engine.py imports from gomme.model.
    assert any(name.startswith("model") for name in imports_of(ROOT / "policies" / "engine.py"))
