"""Who may hold the active node's lease, and until when this node may act on it. Pure.

The lease is one row in PostgreSQL (``storage.lease``): holder, epoch, expiry in *database* time.
A node takes it when nobody holds it, when the holder released it (planned handover) or when the
expiry has passed; each take adds one to the epoch, the fencing token that every decision about
another node's calls is checked against in the same transaction.

Why a lease row and not ``pg_try_advisory_lock``: an advisory lock lives as long as the holder's
database session, and a holder cut off from the database (network split) keeps that session alive
on the server until TCP keepalives time it out — minutes, by default — so the standby could not
take over within seconds, and the holder could not tell for sure whether it still holds it. A
row with an expiry bounds both sides: the holder stops at its *local* deadline, which comes before
the database expiry (it is counted from the moment the renewal was *sent*), and the standby takes
over only after the database expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class LeaseRow:
    holder: str | None
    epoch: int
    expires_at: datetime | None
    released: bool
    handover_requested: bool = False
    previous_holder: str | None = None
    holder_url: str | None = None


@dataclass(frozen=True, slots=True)
class Taken:
    """This node took the lease with ``epoch``. ``dead`` names the previous holder when it did not
    give the lease up (crash, SIGKILL, cut off, or this node's own takeover that failed): the
    other nodes' unfinished calls are then the taker's to close. After a release (handover,
    clean stop) ``dead`` is None: the old node's calls finish there."""

    epoch: int
    previous: str | None
    dead: str | None


def may_take(row: LeaseRow | None, db_now: datetime) -> bool:
    """Nobody holds it, or the holder gave it up or let it expire.

    Not even this node's own unexpired lease: after a crash the restarted process waits for it
    to expire (a clean stop releases it), so that two processes started with the same node id
    by mistake do not take it from each other in turn; the second one stays standby."""
    if row is None or row.holder is None:
        return True
    return row.expires_at is None or row.expires_at <= db_now


def taken(row: LeaseRow | None, me: str) -> Taken:
    """What taking ``row`` means (call only after ``may_take``)."""
    if row is None:
        return Taken(1, None, None)
    previous = row.holder if row.holder is not None else row.previous_holder
    dead = row.holder if row.holder is not None and not row.released else None
    return Taken(row.epoch + 1, previous, dead)


def local_deadline(sent_at: float, lease_s: float, renew_s: float) -> float:
    """Until when (monotonic) this node may act after a renewal sent at ``sent_at`` succeeded.

    The database set the expiry to its own now + ``lease_s`` at some moment *after* ``sent_at``,
    so stopping at ``sent_at + lease_s`` comes first; one renewal interval more of margin covers
    clocks that run at slightly different rates and the time a decision takes to act.
    """
    return sent_at + lease_s - renew_s
