"""Live progress: exports running at the same time share one board, a line each."""

from __future__ import annotations

import io

from rivet.report.progress import LiveBoard


def test_two_exports_share_one_board_and_it_stops_after_the_last() -> None:
    board = LiveBoard(io.StringIO())
    first, second = board.view(), board.view()
    first.start("orders", 100)
    second.start("users", None)
    assert board.progress.live.is_started
    first.advance(150, 1000)  # beyond the estimate: the total follows
    second.advance(7, 70)
    tasks = {t.description: t for t in board.progress.tasks}
    assert (tasks["orders"].completed, tasks["orders"].total) == (150, 150)
    assert tasks["users"].completed == 7
    first.stop()
    assert board.progress.live.is_started and len(board.progress.tasks) == 1
    second.stop()
    assert not board.progress.live.is_started
