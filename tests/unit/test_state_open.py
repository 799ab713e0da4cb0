"""Opening the SQLite state: the message says what is wrong and advises nothing that risks the
cursors (issue 17: a read-only config folder was told to "move the file away")."""

from __future__ import annotations

from pathlib import Path

import pytest

from rivet.state import open_state
from rivet.state.errors import StateError


def test_a_folder_where_no_state_file_can_be_created(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIVET_STATE_URL", raising=False)
    folder = Path("/proc/self")  # even root cannot create a file there
    with pytest.raises(StateError) as info:
        open_state(folder)
    message = str(info.value)
    assert "cannot be created" in message and "make /proc/self writable" in message
    assert "RIVET_STATE_URL" in message and "move" not in message


def test_a_damaged_state_file_is_not_thrown_away_by_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RIVET_STATE_URL", raising=False)
    (tmp_path / ".rivet_state.db").write_bytes(b"not a database, but maybe someone's cursors" * 100)
    with pytest.raises(StateError) as info:
        open_state(tmp_path)
    message = str(info.value)
    assert "cannot be opened" in message and "keep a copy" in message
    assert (tmp_path / ".rivet_state.db").exists()
