"""The supervisor's business-hours override, kept so that it survives a restart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .tables import HoursOverrideRow


@dataclass(frozen=True, slots=True)
class StoredOverride:
    mode: str  # "open" | "closed" | "auto" (auto = cleared)
    until: datetime | None
    set_by: str
    set_at: datetime


async def save_override(sessions: async_sessionmaker[AsyncSession], value: StoredOverride) -> None:
    async with sessions() as session:
        session.add(HoursOverrideRow(mode=value.mode, until=value.until, set_by=value.set_by,
                                     set_at=value.set_at))
        await session.commit()


async def latest_override(sessions: async_sessionmaker[AsyncSession]) -> StoredOverride | None:
    async with sessions() as session:
        row = await session.scalar(
            select(HoursOverrideRow).order_by(HoursOverrideRow.id.desc()).limit(1)
        )
    return None if row is None else StoredOverride(row.mode, row.until, row.set_by, row.set_at)
