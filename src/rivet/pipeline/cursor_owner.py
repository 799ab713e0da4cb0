"""Whose cursor is it? A stored cursor is keyed by export name, as rivet-cli 0.7.7 keys it, so
two configs in one folder (or sharing one PostgreSQL state store) with an export of the same
name would silently continue each other's cursor: the second one's first run would export
nothing. Each cursor therefore records its owner (the config file's name and the table read),
and a run whose owner differs stops, saying whose cursor it found and what to do."""

from __future__ import annotations

from pathlib import Path

from rivet.core.errors import PlanError
from rivet.pipeline.options import RunOptions
from rivet.planning.export_plan import ExportPlan
from rivet.state import CursorState

UNKNOWN_CONFIG = "<config>"


def owner_of(table: str | None, config_label: str) -> dict[str, str]:
    """The owner a run stores: the config file's name (none for a config built in Python) and
    the table, when the export reads one."""
    owner = {}
    if config_label != UNKNOWN_CONFIG:
        owner["config"] = Path(config_label).name
    if table is not None:
        owner["table"] = table
    return owner


def check_owner(
    plan: ExportPlan, cursor: CursorState, options: RunOptions, state_where: str
) -> str | None:
    """Raise when the stored cursor belongs to another export; a warning when it has no owner
    yet (stored by an older rivet: this run binds it)."""
    owner = owner_of(plan.table, options.config_label)
    stored = cursor.owner
    if stored is None:
        return (
            f"the stored cursor of export '{plan.name}' had no owner (stored by an older "
            f"version); it is now bound to {_describe(owner)}"
        )
    differs = [key for key in ("config", "table") if key in stored and key in owner]
    if all(stored[key] == owner[key] for key in differs):
        return None
    config = options.config_label
    raise PlanError(
        f"export '{plan.name}': the stored cursor ({cursor.cursor_value}, run {cursor.run_id}) "
        f"belongs to export '{plan.name}' of {_describe(stored)}, not of {_describe(owner)}: "
        f"configs that share the state store {state_where} share cursors by export name",
        hint=f"give one of the exports another name, or keep each config in a folder of its "
        f"own; if this export does continue that one (a renamed config), run `rivet state "
        f"adopt -c {config} -e {plan.name}`; to export from the beginning, `rivet state reset "
        f"-c {config} -e {plan.name}`",
    )


def _describe(owner: dict[str, str]) -> str:
    parts = [owner.get("config", "a config built in Python")]
    if "table" in owner:
        parts.append(f"reading {owner['table']}")
    return ", ".join(parts)
