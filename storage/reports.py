"""Reading a period's tickets for the monthly response-history report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .tables import EscalationRow, TicketRow


@dataclass(frozen=True, slots=True)
class TicketFigures:
    service: str | None
    outcome: str | None
    status: str
    category: str | None
    wait_seconds: float | None
    talk_seconds: float | None
    escalations: int


async def ticket_figures(sessions: async_sessionmaker[AsyncSession], since: datetime,
                         until: datetime) -> list[TicketFigures]:
    escalations = (select(EscalationRow.ticket_id, func.count().label("n"))
                   .group_by(EscalationRow.ticket_id).subquery())
    query = (
        select(TicketRow.service, TicketRow.outcome, TicketRow.status, TicketRow.category,
               TicketRow.wait_seconds, TicketRow.talk_seconds,
               func.coalesce(escalations.c.n, 0))
        .outerjoin(escalations, escalations.c.ticket_id == TicketRow.id)
        .where(TicketRow.received_at >= since, TicketRow.received_at < until)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [TicketFigures(*row) for row in rows]
