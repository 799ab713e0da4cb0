"""tuning.adaptive: the pause doubles under pressure and halves back without it."""

from __future__ import annotations

from rivet.pipeline.pacing import FIRST_PAUSE_MS, MAX_PAUSE_MS, next_pause


def test_a_growing_counter_doubles_the_pause_up_to_the_cap() -> None:
    pause, reasons = next_pause(0, {"checkpoints_req": 5}, {"checkpoints_req": 7})
    assert (pause, reasons) == (FIRST_PAUSE_MS, ["checkpoints_req +2"])
    pause, _ = next_pause(pause, {"checkpoints_req": 7}, {"checkpoints_req": 8})
    assert pause == 2 * FIRST_PAUSE_MS
    assert next_pause(MAX_PAUSE_MS, {"innodb_log_waits": 1}, {"innodb_log_waits": 2})[0] == (
        MAX_PAUSE_MS
    )


def test_calm_halves_the_pause_back_to_nothing() -> None:
    calm = {"checkpoints_req": 7, "replication_lag_s": 0.0}
    assert next_pause(400, calm, calm) == (200, [])
    assert next_pause(15, calm, calm) == (0.0, [])


def test_replication_lag_counts_while_it_is_high_and_not_falling() -> None:
    high = next_pause(0, {"replication_lag_s": 6}, {"replication_lag_s": 9})
    assert high == (FIRST_PAUSE_MS, ["replication lag 9 s"])
    falling = next_pause(200, {"replication_lag_s": 9}, {"replication_lag_s": 7})
    assert falling == (100, [])
    assert next_pause(0, {"replication_lag_s": 1}, {"replication_lag_s": 2}) == (0.0, [])
