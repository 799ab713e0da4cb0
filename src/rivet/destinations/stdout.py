"""Standard output: the run's single part is copied to stdout once it is complete.

The part is written to a temporary file first, so a failed run writes nothing to stdout (a
consumer never reads half a file); there is no manifest or marker, and nothing else is written
to stdout (the summary and logs go to stderr).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from rivet.core.errors import DestinationError
from rivet.destinations.base import MANIFEST, StagedPart, TempStaging


class StdoutDestination(TempStaging):
    kind = "stdout"
    uri = "stdout:"

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self._stream = stream

    def deliver(self, part: StagedPart) -> None:
        """Parts wait for the end of the run: only a complete export reaches stdout."""

    def publish(
        self,
        parts: Sequence[StagedPart],
        manifest: bytes,
        success: bytes,
        run_id: str,
        latest: str = MANIFEST,
        placed: Callable[[], None] | None = None,
    ) -> None:
        stream = self._stream or sys.stdout.buffer
        try:
            for part in parts:
                with open(part.path, "rb") as handle:
                    shutil.copyfileobj(handle, stream, 1 << 20)
            stream.flush()
        except BrokenPipeError:
            raise DestinationError(
                "stdout was closed by the reading process before the export was complete",
                hint="check the command rivet's output is piped into",
            ) from None

    def remove(self, names: Sequence[str]) -> None:
        """Nothing is kept."""

    def holds(self, part: StagedPart) -> bool:
        return False  # nothing is kept: stdout takes no checkpointed run

    def objects(self) -> dict[str, int]:
        return {}

    def read(self, name: str) -> bytes | None:
        return None

    def fetch(self, name: str, into: Path) -> Path:
        raise DestinationError("standard output keeps no objects to read back")

    def quarantine(self, name: str, run_id: str) -> None:
        raise DestinationError("standard output keeps no objects to move")

    def taken(self, stem: str) -> bool:
        return False

    def probe(self) -> str:
        return "nothing to check: data goes to standard output"
