"""The one error tree. Every failure a user can see is a RivetError with a hint and an exit code.

Driver and library errors are translated into these exactly once, inside the adapter that called
the driver; the CLI is the only place that turns them into a message and an exit status.
"""

from __future__ import annotations


class RivetError(Exception):
    """Base of every error rivet reports to a user."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  Hint: {self.hint}"


class ConfigError(RivetError):
    """The YAML, a --param, or an environment variable it references is wrong."""

    def __init__(self, problems: list[str], *, path: str | None = None) -> None:
        head = f"config file '{path}'" if path else "config"
        if len(problems) == 1:
            message = f"{head}: {problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in problems)
            message = f"{head}: {len(problems)} problems\n{lines}"
        super().__init__(message)
        self.problems = problems


class PlanError(RivetError):
    """The config is valid YAML but cannot be turned into an executable export plan."""


class ExportNotFound(RivetError):
    """`--export NAME` names no export of the config."""


class SourceError(RivetError):
    """The source database refused or failed a request."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        sqlstate: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message, hint=hint)
        self.sqlstate = sqlstate
        self.transient = transient


class SourceConnectionError(SourceError):
    """Could not reach or log in to the source."""


class TypeMappingError(RivetError):
    """A value or column type cannot be exported exactly, and no override says what to do."""


class WriteError(RivetError):
    """Encoding or writing an output part failed."""


class DestinationError(RivetError):
    """The destination refused a write, or is unreachable."""


class ExportFailed(RivetError):
    """One or more exports of a run failed; the per-export causes were already reported."""
