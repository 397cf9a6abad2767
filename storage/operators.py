"""Operators and their skills: the one table the running service takes its operators from.

The config file's ``[[operators]]`` seed it at every start (``sync_operators``): an operator the
config names is added or brought in line with it, one it no longer names becomes inactive. An
operator added or changed in the admin view (``source == "admin"``) is kept as the admin left it,
so a restart never undoes an admin's change. ``merged`` is that rule as a pure function; ``cti
config check`` uses it to read the table the service would run with, without writing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .tables import OperatorRow, OperatorSkill

Sessions = async_sessionmaker[AsyncSession]
CONFIG = "config"
ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    id: str
    name: str
    uri: str
    skills: Mapping[str, int] = field(default_factory=dict)
    active: bool = True
    source: str = CONFIG

    def __post_init__(self) -> None:
        object.__setattr__(self, "skills", MappingProxyType(dict(self.skills)))


class DuplicateOperator(ValueError):
    def __init__(self, operator_id: str) -> None:
        super().__init__(f"operator {operator_id!r} already exists")
        self.operator_id = operator_id


class UriTaken(ValueError):
    def __init__(self, uri: str, operator_id: str) -> None:
        super().__init__(f"phone {uri!r} is already operator {operator_id!r}'s")
        self.uri, self.operator_id = uri, operator_id


def merged(configured: Iterable[OperatorRecord],
           stored: Iterable[OperatorRecord]) -> list[OperatorRecord]:
    """Every operator the service runs with, active or not, ordered by id: the admin's rows as
    they are, the config's operators as configured, config rows it no longer names inactive."""
    config = {o.id: replace(o, active=True, source=CONFIG) for o in configured}
    out = dict(config)
    for row in stored:
        if row.source == ADMIN:
            out[row.id] = row
        elif row.id not in config:
            out[row.id] = replace(row, active=False)
    return [out[key] for key in sorted(out)]


async def _stored(session: AsyncSession) -> list[OperatorRecord]:
    rows = (await session.scalars(select(OperatorRow).order_by(OperatorRow.id))).all()
    skills: dict[str, dict[str, int]] = {}
    for skill in (await session.scalars(select(OperatorSkill))).all():
        skills.setdefault(skill.operator_id, {})[skill.service_id] = skill.level
    return [OperatorRecord(r.id, r.name, r.uri, skills.get(r.id, {}), r.active, r.source)
            for r in rows]


async def read_operators(sessions: Sessions,
                         configured: Iterable[OperatorRecord] = ()) -> list[OperatorRecord]:
    """The merged table (see ``merged``) without writing it."""
    async with sessions() as session:
        return merged(configured, await _stored(session))


async def sync_operators(sessions: Sessions, configured: Iterable[OperatorRecord],
                         now: datetime) -> list[OperatorRecord]:
    """Write the merged table (at start) and return it.

    Both nodes of an HA pair do this when they start; when they start together on a fresh
    database, one of them inserts the rows first and the other one's insert fails: it tries
    again once, and then finds the rows there."""
    configured = list(configured)
    try:
        return await _sync(sessions, configured, now)
    except IntegrityError:
        return await _sync(sessions, configured, now)


async def _sync(sessions: Sessions, configured: list[OperatorRecord],
                now: datetime) -> list[OperatorRecord]:
    async with sessions() as session, session.begin():
        stored = await _stored(session)
        wanted = merged(configured, stored)
        changed = [o for o in wanted if o not in stored]
        for record in changed:
            await _write(session, record, now)
    return wanted


async def add_operator(sessions: Sessions, record: OperatorRecord, now: datetime) -> OperatorRecord:
    """A new operator from the admin view; refused when the id or the phone is taken."""
    record = replace(record, active=True, source=ADMIN)
    async with sessions() as session, session.begin():
        stored = await _stored(session)
        if any(o.id == record.id for o in stored):
            raise DuplicateOperator(record.id)
        _check_uri(stored, record)
        await _write(session, record, now)
    return record


async def change_operator(sessions: Sessions, operator_id: str, now: datetime, *,
                          name: str | None = None, uri: str | None = None,
                          skills: Mapping[str, int] | None = None,
                          active: bool | None = None) -> tuple[OperatorRecord, OperatorRecord]:
    """Change what is given (from the admin view, so the row becomes the admin's); returns the
    operator before and after. LookupError when there is no such operator."""
    async with sessions() as session, session.begin():
        stored = await _stored(session)
        before = next((o for o in stored if o.id == operator_id), None)
        if before is None:
            raise LookupError(operator_id)
        after = replace(
            before, source=ADMIN, name=before.name if name is None else name,
            uri=before.uri if uri is None else uri,
            skills=before.skills if skills is None else skills,
            active=before.active if active is None else active)
        _check_uri(stored, after)
        await _write(session, after, now)
    return before, after


def _check_uri(stored: list[OperatorRecord], record: OperatorRecord) -> None:
    for other in stored:
        if other.id != record.id and other.active and other.uri == record.uri:
            raise UriTaken(record.uri, other.id)


async def _write(session: AsyncSession, record: OperatorRecord, now: datetime) -> None:
    row = await session.get(OperatorRow, record.id)
    if row is None:
        row = OperatorRow(id=record.id)
        session.add(row)
    row.name, row.uri, row.active, row.source, row.updated_at = (
        record.name, record.uri, record.active, record.source, now)
    await session.flush()
    await session.execute(delete(OperatorSkill).where(OperatorSkill.operator_id == record.id))
    session.add_all(OperatorSkill(operator_id=record.id, service_id=service, level=level)
                    for service, level in record.skills.items())

