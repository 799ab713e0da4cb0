"""Slack notifications: one message per export whose outcome is in `notifications.slack.on`.

Events: `failure` (the export failed), `degraded` (it succeeded with warnings: a read with no
key to page by, a lowered `parallel`, sparse chunks...) and `schema_change` (its schema differs
from the last run's, whatever on_schema_drift did about it). A notification that cannot be
delivered costs a warning, never the run.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence

from rivet.config.models import SlackConfig
from rivet.core.redact import redact
from rivet.report.model import ExportResult

log = logging.getLogger(__name__)
TIMEOUT_S = 10
_COLOURS = {"failure": "#e74c3c", "degraded": "#f39c12", "schema_change": "#3498db"}


def events_of(result: ExportResult) -> list[str]:
    events = []
    if result.status == "failed":
        events.append("failure")
    elif result.status == "success" and result.warnings:
        events.append("degraded")
    if result.schema == "CHANGED":
        events.append("schema_change")
    return events


def notify(slack: SlackConfig | None, results: Sequence[ExportResult]) -> int:
    """Post the messages; returns how many were delivered."""
    if slack is None:
        return 0
    url = slack.webhook_url.get_secret_value() if slack.webhook_url else None
    if url is None and slack.webhook_url_env:
        url = os.environ.get(slack.webhook_url_env)
    if not url:
        log.warning(
            "notifications.slack: no webhook URL (webhook_url, or the variable %s is unset)",
            slack.webhook_url_env,
        )
        return 0
    delivered = 0
    for result in results:
        for event in events_of(result):
            if event in slack.on and _post(url, _message(result, event)):
                delivered += 1
    return delivered


def _message(result: ExportResult, event: str) -> dict[str, object]:
    text = (
        f"*{result.export_name}* | status: `{result.status}` | rows: {result.rows:,} | "
        f"duration: {result.duration_s * 1000:.0f}ms"
    )
    if result.error:
        text += f"\nerror: {result.error}"
    if event == "schema_change":
        text += "".join(f"\nschema: {c}" for c in result.schema_changes)
    text += "".join(f"\nwarning: {w}" for w in result.warnings)
    return {
        "attachments": [
            {
                "color": _COLOURS[event],
                "title": f"Rivet: {result.run_id} ({event})",
                "text": redact(text),
                "footer": "rivet export notification",
            }
        ]
    }


def _post(url: str, payload: dict[str, object]) -> bool:
    import urllib.request  # here: http's import costs ~20 ms on every run that notifies nothing

    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status: int = response.status
            return 200 <= status < 300
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, a malformed URL
        log.warning("notifications.slack: the message was not delivered: %s", redact(str(exc)))
        return False
