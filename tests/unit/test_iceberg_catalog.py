"""Runs that open a new SQLite Iceberg catalog at the same moment all get it: the catalog's
tables are created by whichever is first (CI caught one run failing with "table
iceberg_tables already exists" when two committed at once)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pyarrow as pa

from rivet.destinations.iceberg import IcebergTable
from rivet.destinations.targets import IcebergTarget, LocalTarget

PROCESSES, ROUNDS = 8, 5


def _open(folder: str, barrier: Any, answers: Any) -> None:
    table = IcebergTable(
        IcebergTarget(None, "rivet", "t"),
        LocalTarget(Path(folder) / "out"),
        f"sqlite:///{folder}/catalog.db",
        "t",
    )
    barrier.wait()
    try:
        answers.put(table.prepare(pa.schema([("id", pa.int64())]), None))
    except Exception as exc:
        answers.put(f"failed: {exc}")


def test_runs_opening_a_new_catalog_at_once_all_open_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        folder = tmp_path / str(round_)
        folder.mkdir()
        barrier, answers = context.Barrier(PROCESSES), context.Queue()
        runs = [
            context.Process(target=_open, args=(str(folder), barrier, answers))
            for _ in range(PROCESSES)
        ]
        for run in runs:
            run.start()
        found = [answers.get(timeout=60) for _ in runs]
        for run in runs:
            run.join()
        assert found == ["table rivet.t is created at the first commit"] * PROCESSES, found
