"""How a run was asked to go: the flags of `rivet run` that change what an export does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunOptions:
    validate: bool = False  # re-read every part before publishing
    reconcile: bool = False  # compare the source's COUNT(*) before publishing (implies validate)
    resume: bool = False  # continue the unfinished checkpointed chunk run
    config_label: str = "<config>"  # how hints name the config (`rivet run -c <config> ...`)
    config_dir: Path = Path()  # where the default Iceberg catalog lives

    def __post_init__(self) -> None:
        if self.reconcile and not self.validate:
            object.__setattr__(self, "validate", True)
