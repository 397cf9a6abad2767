"""The supervisor's wallboard, as one snapshot: per service the waiting calls, the longest wait
and today's figures (from ``CtiMetrics.today()``, the same numbers Prometheus exposes); every
operator with state, time in state and current call; the hours, the incident notice and the
latest alerts. The console re-reads it whenever a floor event arrives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cti.calls.center import CallCenter
from cti.config import Settings
from cti.floor.feed import ConsoleFeed
from cti.floor.hours import HelpdeskHours
from cti.floor.incidents import IncidentBoard
from cti.metrics import CtiMetrics


def snapshot(center: CallCenter, settings: Settings, metrics: CtiMetrics, hours: HelpdeskHours,
             incidents: IncidentBoard, feed: ConsoleFeed, at: datetime,
             names: dict[str, str]) -> dict[str, Any]:
    """``names``: operator id -> display name (the roster's)."""
    now = center.now()
    today = {f.service: f.as_json() for f in metrics.today()}
    queues = {q.service: q for q in center.router.queues(now)}
    services = []
    for service in settings.services:
        queue = queues.get(service.id)
        waiting = queue.waiting if queue is not None else ()
        services.append({
            "id": service.id, "name_ja": service.name_ja, "name_en": service.name_en,
            "waiting_count": len(waiting),
            "longest_wait_s": round(queue.longest_wait_s, 1) if queue is not None else 0.0,
            "priority_delta": queue.priority_delta if queue is not None else 0,
            "waiting": [{"call_id": c.call_id, "state": c.state, "wait_s": round(c.wait_s, 1),
                         "position": c.position, "offered_to": list(c.offered_to)}
                        for c in waiting],
            "today": today.get(service.id),
        })
    operators = []
    for view in center.router.operators():
        call = center.router.call(view.call_id) if view.call_id else None
        operators.append({
            "id": view.operator_id, "name": names.get(view.operator_id, view.operator_id),
            "state": view.state, "reason": view.reason,
            # since 0: not changed since the service started (no meaningful duration)
            "in_state_s": round(max(0.0, now - view.since), 1) if view.since else None,
            "skills": dict(view.skills), "missed_in_row": view.missed_in_row,
            "pending_state": view.pending_state,
            "call": {"call_id": call.call_id, "service": call.service} if call else None,
            "wrap_up_left_s": (round(max(0.0, view.wrap_up_ends_at - now), 1)
                               if view.wrap_up_ends_at is not None and view.state == "wrap_up"
                               else None),
        })
    notice = incidents.current(at)
    return {"services": services, "operators": operators,
            "hours": hours.status(at).as_json(),
            "incident": notice.as_json(settings.hours.timezone) if notice else None,
            "alerts": list(feed.recent_alerts)}
