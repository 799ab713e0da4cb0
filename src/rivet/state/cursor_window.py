"""cursor_window: for `cursor_lag` exports, the rows exported within lag of the newest cursor
(their cursor values and 64-bit identities), so the next run can skip them when it reads the
window again. Kept as two little-endian arrays per export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from rivet.state.backend import Backend


@dataclass(frozen=True)
class CursorWindow:
    cursors: npt.NDArray[np.int64]
    hashes: npt.NDArray[np.uint64]


class CursorWindows:
    def __init__(self, db: Backend) -> None:
        self._db = db

    def load(self, export: str) -> CursorWindow | None:
        rows = self._db.rows(
            "SELECT cursors, hashes FROM cursor_window WHERE export_name = ?", (export,)
        )
        if not rows:
            return None
        cursors, hashes = (bytes(v) for v in rows[0])
        return CursorWindow(
            np.frombuffer(cursors, dtype="<i8").astype(np.int64),
            np.frombuffer(hashes, dtype="<u8").astype(np.uint64),
        )

    def save(self, export: str, run_id: str, window: CursorWindow) -> None:
        cursors = window.cursors.astype("<i8").tobytes()
        hashes = window.hashes.astype("<u8").tobytes()
        with self._db.locked():
            self._db.change("DELETE FROM cursor_window WHERE export_name = ?", (export,))
            self._db.change(
                "INSERT INTO cursor_window VALUES (?, ?, ?, ?, ?)",
                (export, run_id, datetime.now(UTC).isoformat(), cursors, hashes),
            )

    def reset(self, export: str) -> None:
        self._db.change("DELETE FROM cursor_window WHERE export_name = ?", (export,))
