"""The state each operator last asked for, for the node that takes over (see ``cti.ha``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .tables import OperatorPresence
from .tickets import Sessions


@dataclass(frozen=True, slots=True)
class Presence:
    operator_id: str
    state: str
    reason: str


async def remember(sessions: Sessions, presence: Presence, now: datetime, *,
                   guard: Callable[[AsyncSession], Awaitable[None]] | None = None) -> None:
    """Store it; ``guard`` (the fencing check) runs first in the same transaction."""
    async with sessions() as session, session.begin():
        if guard is not None:
            await guard(session)
        row = await session.get(OperatorPresence, presence.operator_id, with_for_update=True)
        if row is None:
            session.add(OperatorPresence(operator_id=presence.operator_id, state=presence.state,
                                         reason=presence.reason, updated_at=now))
        else:
            row.state, row.reason, row.updated_at = presence.state, presence.reason, now


async def recall(sessions: Sessions) -> list[Presence]:
    async with sessions() as session:
        rows = (await session.scalars(
            select(OperatorPresence).order_by(OperatorPresence.operator_id))).all()
    return [Presence(r.operator_id, r.state, r.reason) for r in rows]
