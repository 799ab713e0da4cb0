"""The one error tree. Every failure a user can see is a RivetError with a hint and an exit code.

Driver and library errors are translated into these exactly once, inside the adapter that called
the driver; the CLI is the only place that turns them into a message and an exit status. Callers
of the Python API import them from `rivet.errors` (docs/api.md lists them):

    RivetError
    ├── ConfigError            the YAML, a --param or an environment variable it names
    ├── PlanError              valid YAML that cannot become an export plan
    │   └── PlanRefused        `apply`: a changed, expired or overtaken plan artifact
    ├── ExportNotFound         `--export NAME` names no export
    ├── MissingExtra           a feature whose optional dependencies are not installed
    ├── SourceError            the database refused or failed a request (.sqlstate, .transient)
    │   └── SourceConnectionError
    ├── TypeMappingError       a value or type that cannot be exported exactly
    ├── WriteError             encoding or writing a part
    ├── DestinationError       the destination refused a write or is unreachable
    ├── StateError             the state store cannot be opened or refuses an operation
    │   └── StoreUnavailable   its database failed a statement
    │       └── LeaseLost      a worker's session (and its leases) with the state database ended
    ├── ValidationError        a part does not read back as written (--validate)
    ├── ReconcileError         the source holds another row count (--reconcile)
    ├── QualityError           a quality gate failed
    ├── SchemaDriftError       on_schema_drift: fail, and the schema changed
    ├── MemoryExceeded         a batch over tuning.max_batch_memory_mb (on_batch_memory_exceeded)
    └── ExportFailed           `rivet run`: one or more exports failed (causes reported)

A run stopped by SIGTERM or SIGINT raises `rivet.core.stop.Stopped` (a KeyboardInterrupt).
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


class PlanRefused(PlanError):
    """`rivet apply` will not run this artifact."""


class ExportNotFound(RivetError):
    """`--export NAME` names no export of the config."""


class MissingExtra(RivetError):
    """A feature needs optional dependencies that are not installed."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(
            f"{what} needs the optional dependencies of rivet's '{extra}' extra, which are not "
            "installed",
            hint=f"pip install 'rivet-extract[{extra}]'",
        )
        self.extra = extra


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


class StateError(RivetError):
    """The state store cannot be opened, migrated or written, or refuses an operation."""


class StoreUnavailable(StateError):
    """The state store's database failed a statement (disk, permissions, a lost connection)."""


class LeaseLost(StoreUnavailable):
    """`rivet apply --worker`: this worker's session with the state database ended, and with it
    the leases on the chunks it held (another worker takes them over)."""


class ValidationError(RivetError):
    """A written part does not read back as written."""


class ReconcileError(RivetError):
    """The source holds another number of rows than the export wrote."""


class QualityError(RivetError):
    """A quality gate failed: nothing was published."""


class SchemaDriftError(RivetError):
    """on_schema_drift: fail, and the schema changed since the last run."""


class MemoryExceeded(RivetError):
    """A batch was larger than tuning.max_batch_memory_mb with on_batch_memory_exceeded: fail."""
