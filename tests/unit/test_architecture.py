"""The architecture as import-linter checks it (the contracts in pyproject.toml): layers import
only downwards and adapters never import each other, whatever the import's form (`from rivet
import x`, relative, indirect). These tests make the contracts complete: every package is in a
layer, and nothing inside a layer reaches around them through the root package."""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "rivet"
# The API's face, above every layer: the package itself, its errors, `python -m rivet`
FACADES = {"rivet", "rivet.errors", "rivet.__main__"}


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_every_package_is_in_a_layer() -> None:
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    named = {m.strip() for layer in layers["layers"] for m in str(layer).split("|")}  # type: ignore[attr-defined]
    packages = {f"rivet.{p.name}" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    modules = {f"rivet.{p.stem}" for p in PACKAGE.glob("*.py")} - FACADES - {"rivet.__init__"}
    assert packages | modules <= named, f"not in any layer: {sorted((packages | modules) - named)}"


def test_nothing_in_a_layer_imports_the_facades() -> None:
    """`from rivet import run` inside a layer would import the API (the top) from below."""
    graph = grimp.build_graph("rivet")
    for facade in FACADES:
        assert graph.find_modules_that_directly_import(facade) <= FACADES, facade


def test_the_contracts_are_kept() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0
