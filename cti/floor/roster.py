"""The operators the running service works with: the merged operators table (config seeds, the
admin view's rows kept; see ``cti.storage.operators``), held in memory for every reader.

It changes only through ``add`` and ``change`` (the admin view), which do the change everywhere
at once and in an order that never leaves a call with nobody: the router is told first when an
operator goes away (refused while they ring, talk or wrap up), the table second; an operator who
arrives or changes is written first and the router told after. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from cti import routing
from cti.config import Settings
from cti.errors import Conflict, NotFound
from cti.storage import audit
from cti.storage import operators as store
from cti.storage.operators import OperatorRecord
from cti.storage.users import Sessions

if TYPE_CHECKING:
    from cti.calls.center import CallCenter

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: str


def seed(settings: Settings) -> list[OperatorRecord]:
    """The config file's operators, as the table's seed."""
    return [OperatorRecord(o.id, o.name, o.uri, o.skills) for o in settings.operators]


async def read_roster(sessions: Sessions, settings: Settings) -> Roster:
    """The operators the service would run with, read without writing (``cti config check``,
    ``cti user add|bind``)."""
    return Roster(await store.read_operators(sessions, seed(settings)))


async def load_roster(sessions: Sessions, settings: Settings, now: datetime) -> Roster:
    """At start: the config seeds the table, then the service runs with what the table says."""
    return Roster(await store.sync_operators(sessions, seed(settings), now))


class Roster:
    def __init__(self, records: Iterable[OperatorRecord]) -> None:
        self._by_id = {r.id: r for r in records}

    def all(self) -> tuple[OperatorRecord, ...]:
        """Every operator, active or not, by id (records of past work name inactive ones)."""
        return tuple(self._by_id[key] for key in sorted(self._by_id))

    def active(self) -> tuple[OperatorRecord, ...]:
        return tuple(o for o in self.all() if o.active)

    def active_ids(self) -> frozenset[str]:
        return frozenset(o.id for o in self._by_id.values() if o.active)

    def names(self) -> dict[str, str]:
        return {o.id: o.name for o in self._by_id.values()}

    async def add(self, sessions: Sessions, center: CallCenter, record: OperatorRecord,
                  actor: Actor, now: datetime) -> OperatorRecord:
        try:
            added = await store.add_operator(sessions, record, now)
        except store.DuplicateOperator:
            raise Conflict(f"オペレーターID {record.id} は既にあります / Operator id "
                           f"{record.id} already exists", field="id") from None
        except store.UriTaken as exc:
            raise _uri_taken(exc) from None
        self._by_id[added.id] = added
        await _tell_router(center, added)
        await _audit(sessions, actor, now, "operator.add", added.id, {"after": _plain(added)})
        return added

    async def change(self, sessions: Sessions, center: CallCenter, operator_id: str,
                     changes: Mapping[str, Any], actor: Actor, now: datetime) -> OperatorRecord:
        """``changes``: any of name, uri, skills, active (False deactivates, True reactivates)."""
        current = self._by_id.get(operator_id)
        if current is None:
            raise NotFound(f"オペレーター {operator_id} はいません / No operator {operator_id}")
        leaving = current.active and changes.get("active") is False
        if leaving:
            await _tell_router(center, current, remove=True)
        try:
            before, after = await store.change_operator(sessions, operator_id, now, **changes)
        except Exception as exc:
            if leaving:  # not written: they stay on the floor
                await _tell_router(center, current)
            if isinstance(exc, store.UriTaken):
                raise _uri_taken(exc) from None
            if isinstance(exc, LookupError):
                raise NotFound(f"オペレーター {operator_id} はいません / "
                               f"No operator {operator_id}") from None
            raise
        self._by_id[after.id] = after
        if after.active:
            await _tell_router(center, after)
        action = "operator.deactivate" if leaving else "operator.change"
        await _audit(sessions, actor, now, action, operator_id, {
            "before": {k: v for k, v in _plain(before).items() if _plain(after)[k] != v},
            "after": {k: v for k, v in _plain(after).items() if _plain(before)[k] != v}})
        return after


async def _tell_router(center: CallCenter, record: OperatorRecord, *, remove: bool = False) -> None:
    event: routing.OperatorConfigured | routing.OperatorRemoved = (
        routing.OperatorRemoved(record.id) if remove
        else routing.OperatorConfigured(record.id, tuple(sorted(record.skills.items()))))
    decisions = await center.submit(
        lambda: center.roster_changed(event, None if remove else record.uri))
    rejected = [d for d in decisions if isinstance(d, routing.Rejected)]
    if rejected and rejected[0].error_id == routing.RejectionReason.OPERATOR_BUSY:
        raise Conflict(f"{record.id} は呼出中・通話中・後処理中です。ログオフしてから無効にしてください"
                       f" / {record.id} is ringing, on a call or in wrap-up: log them off first",
                       error=rejected[0].error_id)
    if rejected:
        raise Conflict(rejected[0].detail, error=rejected[0].error_id)
    log.info("roster.router_told", operator_id=record.id, removed=remove)


def _uri_taken(exc: store.UriTaken) -> Conflict:
    return Conflict(f"電話 {exc.uri} は {exc.operator_id} が使っています / Phone {exc.uri} is "
                    f"already {exc.operator_id}'s", field="uri")


def _plain(record: OperatorRecord) -> dict[str, Any]:
    return {"name": record.name, "uri": record.uri, "skills": dict(record.skills),
            "active": record.active}


async def _audit(sessions: Sessions, actor: Actor, now: datetime, action: str, target: str,
                 detail: dict[str, Any]) -> None:
    await audit.record(sessions, audit.AuditEntry(now, actor.name, actor.role, action, target,
                                                  detail))
