"""How a run was asked to go: the flags of `rivet run` that change what an export does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rivet.state.chunk_runs import ChunkRuns
from rivet.state.leases import LeasedChunks, Leases


@dataclass(frozen=True)
class WorkerRole:
    """This process is one of the workers of a sealed plan (`rivet apply PLAN --worker`)."""

    leases: Leases  # its session with the state database, and its claims
    plan_id: str
    source_key: str  # the source it reads, without credentials
    max_readers: int | None  # chunks of that source read at once across all workers
    shared_filesystem: bool = False  # --shared-filesystem: a local destination every host sees

    def ledger(self, runs: ChunkRuns, max_attempts: int) -> LeasedChunks:
        """A shared run's chunks as this worker claims them: within its source's readers."""
        return LeasedChunks(self.leases, runs, max_attempts, self.source_key, self.max_readers)


@dataclass(frozen=True)
class RunOptions:
    validate: bool = False  # re-read every part before publishing
    reconcile: bool = False  # compare the source's COUNT(*) before publishing (implies validate)
    resume: bool = False  # continue the unfinished checkpointed chunk run
    config_label: str = "<config>"  # how hints name the config (`rivet run -c <config> ...`)
    config_dir: Path = Path()  # where the default Iceberg catalog lives
    worker: WorkerRole | None = None  # --worker: chunks are claimed from the plan's shared run

    def __post_init__(self) -> None:
        if self.reconcile and not self.validate:
            object.__setattr__(self, "validate", True)
