"""One error tree (issue 19, item 7): every error class rivet defines is importable from
`rivet.errors` and listed in docs/python-api.md; statuses are typed values."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import rivet
import rivet.errors
from rivet.core.errors import RivetError

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found | {s for c in found for s in _subclasses(c)}


def test_every_rivet_error_is_importable_from_rivet_errors_and_documented() -> None:
    for module in pkgutil.walk_packages(rivet.__path__, "rivet."):
        if module.name != "rivet.__main__" and not module.name.startswith("rivet.mcp_server"):
            importlib.import_module(module.name)
    defined = {
        c
        for c in _subclasses(RivetError)
        if c.__module__.startswith("rivet.") and not c.__name__.startswith("_")  # internal
    }
    exported = {getattr(rivet.errors, name) for name in rivet.errors.__all__}
    assert defined <= exported, sorted(c.__name__ for c in defined - exported)
    doc = DOC.read_text()
    assert [n for n in rivet.errors.__all__ if f"`{n}`" not in doc] == []


def test_statuses_are_typed_and_still_compare_as_text() -> None:
    status = rivet.ExportStatus.FAILED
    assert isinstance(status, str) and status == "failed"
    assert rivet.ExportResult("e", "r").status is rivet.ExportStatus.RUNNING
