"""Reading the deliverables back (openpyxl) and counting the same things with plain SQL."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.config import BusinessCalendar, Settings
from cti.reports.period import Month
from cti.storage.tables import UtcDateTime

Sessions = async_sessionmaker[AsyncSession]


def section(ws: Worksheet, prefix: str) -> list[list[Any]]:
    """The data rows of the table under the heading that starts with ``prefix``."""
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if isinstance(r[0], str) and r[0].startswith(prefix))
    found = []
    for row in rows[start + 2:]:  # heading, then the table's header row
        if row[0] is None or all(v is None for v in row[1:]) or row[0] == "該当なし / none":
            break
        found.append(list(row))
    return found


def texts(ws: Worksheet) -> str:
    return "\n".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None)


@dataclass
class SqlCounts:
    total: int
    references: list[str]
    summaries: list[str]
    escalated_tickets: int
    by_service: dict[str | None, int]
    by_outcome: dict[str | None, int]
    by_local_day: Counter[Any]
    by_category: Counter[tuple[str, str]]
    escalations: dict[str, tuple[int, int]]  # target -> (total, answered)
    incidents: int
    service_level: float | None
    abandoned_in_hours: int
    counted: int
    asa: float | None
    aht: float | None
    abandon_rate: float | None


def _ranged(sql: str, **columns: Any) -> Any:
    clause = text(sql).bindparams(bindparam("s", type_=UtcDateTime()), bindparam("e", type_=UtcDateTime()))
    return clause.columns(**columns) if columns else clause


async def sql_counts(settings: Settings, sessions: Sessions, month: Month) -> SqlCounts:
    zone = settings.hours.timezone
    start, end = month.bounds(zone)
    window = {"s": start, "e": end}
    where = "received_at >= :s AND received_at < :e"
    async with sessions() as s:
        total = (await s.execute(_ranged(f"SELECT count(*) FROM tickets WHERE {where}"), window)).scalar_one()
        refs = (await s.execute(_ranged(
            f"SELECT reference, summary FROM tickets WHERE {where} ORDER BY received_at, id"), window)).all()
        by_service = dict((await s.execute(_ranged(
            f"SELECT service, count(*) FROM tickets WHERE {where} GROUP BY service"), window)).all())
        by_outcome = dict((await s.execute(_ranged(
            f"SELECT outcome, count(*) FROM tickets WHERE {where} GROUP BY outcome"), window)).all())
        received = (await s.execute(_ranged(f"SELECT received_at FROM tickets WHERE {where}",
                                            received_at=UtcDateTime()), window)).scalars().all()
        categories = (await s.execute(_ranged(
            f"SELECT service, category, count(*) FROM tickets WHERE {where} AND category IS NOT NULL"
            " GROUP BY service, category"), window)).all()
        escalations = (await s.execute(_ranged(
            "SELECT e.target, count(*), count(e.answered_at) FROM escalations e"
            " JOIN tickets t ON t.id = e.ticket_id WHERE t.received_at >= :s AND t.received_at < :e"
            " GROUP BY e.target"), window)).all()
        escalated = (await s.execute(_ranged(
            "SELECT count(DISTINCT e.ticket_id) FROM escalations e JOIN tickets t ON t.id = e.ticket_id"
            " WHERE t.received_at >= :s AND t.received_at < :e"), window)).scalar_one()
        incidents = (await s.execute(_ranged(
            "SELECT count(*) FROM audit_log WHERE action = 'incident.declare' AND at >= :s AND at < :e"),
            window)).scalar_one()
        queued = (await s.execute(_ranged(
            "SELECT t.outcome, t.wait_seconds, t.talk_seconds, c.answered_at, c.ended_at FROM tickets t"
            " JOIN calls c ON c.id = t.call_id WHERE t.received_at >= :s AND t.received_at < :e"
            " AND t.outcome IN ('answered', 'abandoned_queue')",
            answered_at=UtcDateTime(), ended_at=UtcDateTime()), window)).all()
    calendar = BusinessCalendar(settings.hours)
    hit = counted = abandoned = 0
    waits: list[float] = []
    talks: list[float] = []
    threshold = settings.metrics.service_level_seconds
    for outcome, wait, talk, answered_at, ended_at in queued:
        at: datetime = answered_at if outcome == "answered" else ended_at
        if not calendar.status(at).open:
            continue
        counted += 1
        if outcome == "answered":
            hit += wait <= threshold
            waits.append(wait)
            talks.append(talk)
        else:
            abandoned += 1
    days: Counter[Any] = Counter(at.astimezone(zone).date() for at in received)
    return SqlCounts(
        total, [r[0] for r in refs], [r[1] for r in refs], escalated, by_service, by_outcome, days,
        Counter({(sv, c): n for sv, c, n in categories}),
        {t: (n, a) for t, n, a in escalations}, incidents, hit / counted if counted else None,
        abandoned, counted,
        sum(waits) / len(waits) if waits else None, sum(talks) / len(talks) if talks else None,
        abandoned / counted if counted else None)

