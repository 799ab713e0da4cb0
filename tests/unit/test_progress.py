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


def test_a_read_without_an_estimate_shows_no_bare_eta() -> None:
    """A query export has no row estimate: no ETA column at all, not an empty 'ETA'."""
    stream = io.StringIO()
    board = LiveBoard(stream)
    view = board.view()
    view.start("q", None)
    view.advance(500, 5000)
    (task,) = board.progress.tasks
    assert task.fields["eta"] == ""
    rendered = "".join(str(c.render(task)) for c in board.progress.columns)
    assert "ETA" not in rendered
    view.stop()


def test_eta_from_the_rate_so_far() -> None:
    from rivet.report.progress import eta

    assert eta(250, 1000, 10.0) == "ETA 0:00:30"
    assert eta(0, 1000, 1.0) == "" and eta(10, None, 1.0) == "" and eta(1000, 1000, 3.0) == ""


def test_chunked_progress_counts_chunks_on_every_view() -> None:
    from rivet.report.progress import EventProgress, LogProgress, replay

    log = io.StringIO()
    view = LogProgress(log, every_s=0.0)
    view.start("c", 1000)
    view.chunks(2, 5)
    view.advance(400, 4000)
    assert "c: 400 rows, " in log.getvalue() and ", chunks 2/5, ETA " in log.getvalue()
    board = LiveBoard(io.StringIO())
    live = board.view()
    events = io.StringIO()
    child = EventProgress(events, every_s=0.0)
    child.start("c", 1000)
    child.chunks(3, 5)
    state: dict[str, int] = {}
    for line in events.getvalue().splitlines():
        assert replay(line, live, state)
    (task,) = board.progress.tasks
    assert task.fields["chunks"] == "chunks 3/5"
    live.stop()
