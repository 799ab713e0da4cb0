"""Schema and shape drift around one run.

Before anything is read, the schema the export will write is compared with the last successful
run's: `on_schema_drift: fail` stops here (nothing written, no cursor moved), `warn` reports the
changes, `continue` only records them. While reading, the widest text/binary value per column
is tracked; before publishing, a column that grew beyond `shape_drift_warn_factor` times its
widest value ever gets a warning. Only a published run records its schema and shapes.
"""

from __future__ import annotations

import logging

import pyarrow as pa

from rivet.core.errors import SchemaDriftError
from rivet.integrity.drift import ShapeTracker, diff_schema, schema_columns, shape_warnings
from rivet.planning.export_plan import ExportPlan
from rivet.report.model import ExportResult
from rivet.state import StateStore

log = logging.getLogger(__name__)


class DriftWatch:
    def __init__(
        self, plan: ExportPlan, state: StateStore | None, schema: pa.Schema, result: ExportResult
    ) -> None:
        self._plan, self._state, self._result = plan, state, result
        self._columns = schema_columns(schema)
        self.shapes = ShapeTracker(schema)
        self._changed = False

    def check_schema(self) -> None:
        if self._state is None:
            return
        previous = self._state.schemas.latest(self._plan.name)
        result = self._result
        if previous is None:
            result.schema = "new"
            return
        changes = diff_schema(previous, self._columns)
        if not changes:
            result.schema = "ok"
            return
        self._changed = True
        result.schema = "CHANGED"
        result.schema_changes = [str(c) for c in changes]
        result.note("schema_changed", changes=result.schema_changes)
        if self._plan.schema_drift == "fail":
            raise SchemaDriftError(
                f"schema drift detected for export '{self._plan.name}': "
                f"{'; '.join(result.schema_changes)}; nothing was written",
                hint="review the change, then set on_schema_drift: warn (or continue) for one run "
                "to accept it",
            )
        if self._plan.schema_drift == "warn":
            result.warnings.append(
                f"schema changed since the last run: {'; '.join(result.schema_changes)}"
            )

    def observe(self, batch: pa.RecordBatch) -> None:
        if self._plan.shape_drift_factor > 0:
            self.shapes.observe(batch)

    def check_shapes(self) -> None:
        """Before publishing: warnings only."""
        if self._state is None or self._plan.shape_drift_factor <= 0:
            return
        before = self._state.schemas.shapes(self._plan.name)
        found = shape_warnings(before, self.shapes.widths, self._plan.shape_drift_factor)
        for warning in found:
            self._result.note("shape_drift", message=warning)
        self._result.warnings.extend(found)

    def record(self) -> None:
        """After publishing: this run's schema and widths become the reference."""
        if self._state is None:
            return
        try:
            if self._result.schema != "ok":
                self._state.schemas.record(self._plan.name, self._result.run_id, self._columns)
            if self._plan.shape_drift_factor > 0:
                widths = self.shapes.widths
                self._state.schemas.record_shapes(self._plan.name, self._result.run_id, widths)
        except Exception as exc:  # drift history is advice: losing it must not fail the run
            log.warning("export %s: could not record its schema: %s", self._plan.name, exc)
