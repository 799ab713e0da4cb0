"""Run ids and part names, as rivet-cli 0.7.7 names them (consumers parse them):

    <export>_<YYYYMMDD_HHMMSS>.<ext>            one part
    <export>_<YYYYMMDD_HHMMSS>_part<i>.<ext>    rotated by max_file_size
    <export>_<YYYYMMDD_HHMMSS>_chunk<i>.<ext>   chunked (and _chunk<i>_part<j> when rotated)
    <key>=<value>/.../<one of the above>        partition_by (each folder names its parts so)

The stamp is the run's start second (UTC). 0.7.7 let two runs in the same second overwrite each
other's parts; rivet takes the next second whose names are free at the destination instead, so
a part name never repeats and never overwrites. The run id keeps milliseconds
(`<export>_<YYYYmmddTHHMMSS.mmm>`) and carries the stamp, so a resumed chunk run finds its names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from rivet.core.errors import DestinationError
from rivet.destinations.base import MANIFESTS

MAX_SHIFT_S = 120  # seconds after the start to look for free names


def run_stamp(export: str, started: datetime, taken: Callable[[str], bool]) -> datetime:
    """The run's second: its start, or the first later one whose part names are free."""
    moment = started.replace(microsecond=0)
    for _ in range(MAX_SHIFT_S):
        # a published run's manifest also holds its second: part names in partition folders
        # are not at the top of the prefix
        if not taken(f"{export}_{moment:%Y%m%d_%H%M%S}") and not taken(
            f"{MANIFESTS}/{export}_{moment:%Y%m%dT%H%M%S}"
        ):
            return moment.replace(microsecond=started.microsecond)
        moment += timedelta(seconds=1)
    raise DestinationError(
        f"export '{export}': every part name of the {MAX_SHIFT_S} seconds after "
        f"{started:%Y-%m-%d %H:%M:%S} UTC is taken at the destination",
        hint="are many runs of this export writing to one place at once? run them one at a time",
    )


def make_run_id(export: str, moment: datetime) -> str:
    return f"{export}_{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}"


def part_base_name(export: str, run: str) -> str:
    """`<export>_<YYYYMMDD_HHMMSS>` from a run id `<export>_<YYYYmmddTHHMMSS.mmm>`."""
    stamp = run[len(export) + 1 :]
    return f"{export}_{stamp.split('.')[0].replace('T', '_')}"
