"""The audit log: who read or changed what, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .tables import AuditEntryRow


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, Any]


async def record(sessions: async_sessionmaker[AsyncSession], entry: AuditEntry) -> None:
    async with sessions() as session:
        session.add(AuditEntryRow(at=entry.at, actor=entry.actor, role=entry.role,
                                  action=entry.action, target=entry.target, detail=entry.detail))
        await session.commit()


async def entries(
    sessions: async_sessionmaker[AsyncSession], *, action: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    query = select(AuditEntryRow).order_by(AuditEntryRow.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEntryRow.action == action)
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    return [AuditEntry(r.at, r.actor, r.role, r.action, r.target, dict(r.detail)) for r in rows]
