"""The layers of src/rivet import only downwards, and adapters never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "rivet"
ADAPTERS = {"sources", "formats", "destinations", "state", "report"}
_INNER = {"core", "config", "planning", "quality", "integrity", "pipeline"}
ALLOWED = {
    "core": {"core"},
    "config": {"core", "config"},
    **{adapter: {"core", "config", adapter} for adapter in ADAPTERS},
    "quality": {"core", "integrity", "quality"},
    "integrity": {"core", "integrity"},  # checksums, manifests, drift: plain Arrow and JSON
    "planning": {"core", "config", "planning", "destinations", "quality", "integrity"},
    "mcp_server": {"core", "config", "state", "mcp_server"},  # read-only probes
    "pipeline": {"core", "config", "planning", "quality", "integrity", "pipeline", *ADAPTERS},
    "commands": {*_INNER, "commands", *ADAPTERS},
    "cli": {*_INNER, "commands", "cli", *ADAPTERS},
}


def _imports(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        layers |= {n.split(".")[1] for n in names if n.startswith("rivet.") and "." in n}
    return layers


def test_every_module_imports_only_allowed_layers() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = path.relative_to(PACKAGE).parts[0]
        if layer not in ALLOWED:
            continue
        for imported in _imports(path) - ALLOWED[layer]:
            problems.append(f"{path.relative_to(PACKAGE)} imports rivet.{imported}")
    assert problems == []
