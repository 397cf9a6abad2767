"""Operators' requested states across a takeover: the active node remembers each change in the
database, the node taking over puts them back before it takes calls (the routing state itself,
calls and timers, belongs to the node that had the calls and is not carried over)."""

from __future__ import annotations

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from cti.ha.node import Role
from cti.keys import CALL_CENTER, CLOCK, NODE, SESSIONS, SETTINGS
from cti.routing import OperatorState, OperatorStateRequested, Rejected
from cti.storage import lease as lease_rows
from cti.storage import presence as presence_rows
from cti.storage.presence import Presence

log = structlog.get_logger()


async def remember(app: web.Application, presence: Presence) -> None:
    """After an operator's state change was accepted by the active node of a pair (one node
    needs no copy; a standby's own router is not the floor)."""
    node = app[NODE]
    if not (node.paired and node.role is Role.ACTIVE):
        return
    epoch = node.epoch

    async def fence(session: AsyncSession) -> None:  # a node that lost the lease writes nothing
        await lease_rows.hold(session, node.node_id, epoch)

    try:
        await presence_rows.remember(app[SESSIONS], presence, app[CLOCK](), guard=fence)
    except lease_rows.Fenced:
        log.warning("ha.presence_not_saved_fenced", node=node.node_id, epoch=epoch,
                    operator_id=presence.operator_id)


async def restore(app: web.Application) -> int:
    """Put every configured operator back in the state last asked for; returns how many."""
    configured = {o.id for o in app[SETTINGS].operators}
    wanted = [p for p in await presence_rows.recall(app[SESSIONS]) if p.operator_id in configured]
    center = app[CALL_CENTER]

    async def apply() -> int:
        restored = 0
        for presence in wanted:
            event = OperatorStateRequested(presence.operator_id, OperatorState(presence.state),
                                           presence.reason, True)
            decisions = center.router.handle(event, center.now())
            await center.route_decisions(decisions)
            restored += not any(isinstance(d, Rejected) for d in decisions)
        return restored

    restored: int = await center.submit(apply)
    log.info("ha.operators_restored", restored=restored, remembered=len(wanted))
    return restored
