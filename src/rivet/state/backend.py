"""What the state tables need of a database: SQLite and PostgreSQL both provide it."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Backend(Protocol):
    where: str

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def change(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def locked(self) -> AbstractContextManager[None]:
        """A write transaction that no other process (or thread) interleaves with."""
        ...

    def close(self) -> None: ...
