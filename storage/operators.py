"""Operators and their skills, kept in step with the configuration file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .tables import OperatorRow, OperatorSkill


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    id: str
    name: str
    uri: str
    skills: Mapping[str, int]


async def sync_operators(
    sessions: async_sessionmaker[AsyncSession], operators: Iterable[OperatorRecord], now: datetime
) -> None:
    """Make the table match the configuration; operators no longer configured become inactive.

    Both nodes of an HA pair do this when they start; when they start together on a fresh
    database, one of them inserts the rows first and the other one's insert fails: it tries
    again once, and then finds the rows there."""
    wanted = {o.id: o for o in operators}
    try:
        await _sync(sessions, wanted, now)
    except IntegrityError:
        await _sync(sessions, wanted, now)


async def _sync(sessions: async_sessionmaker[AsyncSession], wanted: Mapping[str, OperatorRecord],
                now: datetime) -> None:
    async with sessions() as session, session.begin():
        existing = {row.id: row for row in (await session.scalars(select(OperatorRow))).all()}
        for row in existing.values():
            row.active = row.id in wanted
            row.updated_at = now
        for op in wanted.values():
            current = existing.get(op.id)
            if current is None:
                session.add(OperatorRow(id=op.id, name=op.name, uri=op.uri, active=True,
                                        updated_at=now))
            else:
                current.name, current.uri = op.name, op.uri
        await session.flush()
        await session.execute(delete(OperatorSkill).where(OperatorSkill.operator_id.in_(wanted)))
        session.add_all(
            OperatorSkill(operator_id=op.id, service_id=service, level=level)
            for op in wanted.values() for service, level in op.skills.items()
        )


async def active_operators(sessions: async_sessionmaker[AsyncSession]) -> list[OperatorRecord]:
    async with sessions() as session:
        rows = (await session.scalars(
            select(OperatorRow).where(OperatorRow.active.is_(True)).order_by(OperatorRow.id)
        )).all()
        skills = (await session.scalars(select(OperatorSkill))).all()
    by_operator: dict[str, dict[str, int]] = {}
    for skill in skills:
        by_operator.setdefault(skill.operator_id, {})[skill.service_id] = skill.level
    return [OperatorRecord(r.id, r.name, r.uri, by_operator.get(r.id, {})) for r in rows]
