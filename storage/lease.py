"""The active node's lease row in PostgreSQL (see ``cti.ha.lease`` for the rules and the why).

Every expiry is computed by the database (``now()``), never from a node's clock. ``hold`` is the
fencing check: run inside a transaction, it locks the row (``FOR SHARE``) and fails unless this
node still holds the lease *with this epoch* and it has not expired, so a write that decides
about another node's calls commits only while the writer is the one active node.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cti.ha.lease import LeaseRow, Taken, may_take, taken

from .tables import CallRow, HaLease
from .tickets import Sessions

LEASE = "cti"


class Fenced(RuntimeError):
    """This node no longer holds the lease with the epoch it acts on."""


@dataclass(frozen=True, slots=True)
class Renewal:
    held: bool
    handover_requested: bool = False


async def ensure_row(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await session.execute(insert(HaLease).values(
            name=LEASE, holder=None, epoch=0, expires_at=None, released=False,
            handover_requested=False, previous_holder=None).on_conflict_do_nothing())


async def read(sessions: Sessions) -> tuple[LeaseRow | None, datetime]:
    async with sessions() as session:
        db_now = await _db_now(session)
        row = await session.get(HaLease, LEASE)
        return (_view(row) if row is not None else None), db_now


async def try_take(sessions: Sessions, me: str, lease_s: float,
                   url: str = "") -> tuple[Taken | None, str | None]:
    """Take the lease if ``may_take`` allows it (None when another node holds it), and the
    holder's console URL afterwards."""
    try:
        async with sessions() as session, session.begin():
            db_now = await _db_now(session)
            row = await session.get(HaLease, LEASE, with_for_update=True)
            if row is None:
                row = HaLease(name=LEASE, holder=None, epoch=0, released=False,
                              handover_requested=False)
                session.add(row)
            view = _view(row)
            if not may_take(view, db_now):
                return None, view.holder_url
            result = taken(view, me)
            row.holder, row.epoch, row.holder_url = me, result.epoch, url or None
            row.expires_at = db_now + timedelta(seconds=lease_s)
            row.released = row.handover_requested = False
            row.previous_holder = result.previous
            return result, row.holder_url
    except IntegrityError:  # both nodes created the first row at once: the other one won
        return None, None


async def renew(sessions: Sessions, me: str, epoch: int, lease_s: float) -> Renewal:
    async with sessions() as session, session.begin():
        found = (await session.execute(
            update(HaLease)
            .where(HaLease.name == LEASE, HaLease.holder == me, HaLease.epoch == epoch)
            .values(expires_at=func.now() + timedelta(seconds=lease_s))
            .returning(HaLease.handover_requested))).first()
    return Renewal(False) if found is None else Renewal(True, bool(found[0]))


async def release(sessions: Sessions, me: str, epoch: int) -> bool:
    """Give the lease up at once (planned handover, clean stop): the standby takes it without
    closing this node's calls, which finish here."""
    async with sessions() as session, session.begin():
        found = (await session.execute(
            update(HaLease)
            .where(HaLease.name == LEASE, HaLease.holder == me, HaLease.epoch == epoch)
            .values(holder=None, released=True, handover_requested=False, previous_holder=me,
                    holder_url=None, expires_at=func.now())
            .returning(HaLease.epoch))).first()
    return found is not None


async def request_handover(sessions: Sessions) -> LeaseRow | None:
    """Ask the active node to hand over (it sees the flag at its next renewal)."""
    async with sessions() as session, session.begin():
        row = await session.get(HaLease, LEASE, with_for_update=True)
        if row is None or row.holder is None:
            return None
        row.handover_requested = True
        return _view(row)


async def hold(session: AsyncSession, me: str, epoch: int) -> None:
    """The fencing check, inside the caller's transaction (see the module docstring)."""
    found = await session.scalar(
        select(HaLease.epoch).where(HaLease.name == LEASE, HaLease.holder == me,
                                    HaLease.epoch == epoch, HaLease.expires_at > func.now())
        .with_for_update(read=True))
    if found is None:
        raise Fenced(f"node {me} does not hold the lease with epoch {epoch}")


async def _db_now(session: AsyncSession) -> datetime:
    value = await session.scalar(select(func.now()))
    assert isinstance(value, datetime)
    return value


def _view(row: HaLease) -> LeaseRow:
    return LeaseRow(row.holder, row.epoch or 0, row.expires_at, bool(row.released),
                    bool(row.handover_requested), row.previous_holder, row.holder_url)


async def unfinished_calls(sessions: Sessions) -> int:
    """Calls without a recorded end (up on some node, or waiting for its journal)."""
    async with sessions() as session:
        return int(await session.scalar(
            select(func.count()).select_from(CallRow).where(CallRow.ended_at.is_(None))) or 0)
