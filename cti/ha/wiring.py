"""Builds this node (``cti.ha.node``) into the service: the lease store, the takeover, the
``cti_node_active`` gauge. Two cleanup contexts, so that the order around the others is plain:

- ``node_context`` (after the database, before the ticket writer): the ``Node`` exists, so the
  start-up reconciliation closes only this node's calls and the call centre can consult it;
- ``lease_context`` (after the call centre): the lease task runs; on stop the lease is given up
  *first*, so that the standby takes over while this node's calls are still being ended.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from functools import partial

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from cti.config import Settings
from cti.ha import presence
from cti.ha.lease import Taken
from cti.ha.node import LeaseStore, Node, Role
from cti.keys import CLOCK, HOURS, NODE, REGISTRY, SESSIONS, SETTINGS, TICKET_WRITER
from cti.storage import create_engine, session_factory
from cti.storage import lease as lease_rows
from cti.storage.recovery import close_unfinished_calls
from cti.storage.tickets import Sessions

log = structlog.get_logger()
TAKEOVER_SEQ_GAP = 1_000_000  # see cti.tickets.recovery.closing_event
TAKEOVER_FLUSH_S = 2.0


def node_id(settings: Settings) -> str:
    return settings.ha.node_id or socket.gethostname().split(".")[0][:32] or "cti"


def shared_database(settings: Settings) -> bool:
    """A pair needs a database server both nodes reach; SQLite is one node's file."""
    return make_url(settings.database.url).get_backend_name() == "postgresql"


def paired(settings: Settings) -> bool:
    """This node is one of a pair: a shared database and a node id given (``--node-id``,
    ``ha.node_id``, ``CTI_HA_NODE_ID``). Otherwise one node, always active, as before HA."""
    return shared_database(settings) and bool(settings.ha.node_id)


def own_calls(app: web.Application) -> Callable[[str | None], bool] | None:
    """Whose unfinished calls the start-up reconciliation closes: this node's and those from
    before HA (None); everything when not paired."""
    node = app[NODE]
    return (lambda owner: owner in (node.node_id, None)) if node.paired else None


async def node_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    me = node_id(settings)
    if not paired(settings):
        app[NODE] = Node(me, None, lease_s=settings.ha.lease_seconds,
                         renew_s=settings.ha.renew_seconds, monotonic=time.monotonic)
        _gauge(app)
        yield
        return
    # Its own small pool: a ticket backlog or a slow report never delays a renewal.
    engine = create_engine(settings.database.url, pool_size=2, max_overflow=0)
    sessions = session_factory(engine)
    try:
        await lease_rows.ensure_row(sessions)
        url = settings.ha.url or f"http://{settings.http.listen}"
        store = LeaseStore(take=partial(_take, sessions, url=url),
                           renew=partial(_renew, sessions),
                           release=partial(lease_rows.release, sessions),
                           holder_url=partial(_holder_url, sessions))
        node = Node(me, store, lease_s=settings.ha.lease_seconds,
                    renew_s=settings.ha.renew_seconds, monotonic=time.monotonic,
                    on_takeover=partial(take_over, app))
        app[NODE] = node
        _gauge(app)
        log.info("ha.node_started", node=me, lease_s=settings.ha.lease_seconds)
        yield
    finally:
        await engine.dispose()


async def lease_context(app: web.Application) -> AsyncIterator[None]:
    node = app[NODE]
    await node.start()
    task = asyncio.create_task(node.run(), name="ha-lease")
    task.add_done_callback(_lease_task_ended)
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await node.stop()


def _lease_task_ended(task: asyncio.Task[None]) -> None:
    """The lease task only ends on stop; if it died, this node stops taking calls at its
    deadline and never takes over: say so loudly."""
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        log.critical("ha.lease_task_died", error=type(exc).__name__, detail=str(exc)[:300])


async def take_over(app: web.Application, taken: Taken) -> None:
    """Before this node takes calls: close the calls the dead node left up (fenced by the
    epoch just taken), reload what the other node may have changed."""
    node = app[NODE]
    if taken.dead is not None:
        writer = app[TICKET_WRITER]
        try:  # this node's own events first (a standby has few or none)
            async with asyncio.timeout(TAKEOVER_FLUSH_S):
                await writer.flush()
        except TimeoutError:
            log.warning("ha.takeover_journal_not_applied", backlog_bytes=writer.backlog_bytes)

        async def fence(session: AsyncSession) -> None:
            await lease_rows.hold(session, node.node_id, taken.epoch)

        me = node.node_id
        result = await close_unfinished_calls(  # the other node's (a pair has two)
            app[SESSIONS], app[CLOCK](), owned=lambda owner: owner not in (me, None),
            seq_gap=TAKEOVER_SEQ_GAP, guard=fence)
        log.warning("ha.calls_taken_over", dead=taken.dead, closed=result.closed,
                    failed=result.failed, by_state=result.by_state)
    await app[HOURS].load()  # a supervisor may have changed the override on the other node
    await presence.restore(app)


async def _take(sessions: Sessions, me: str, lease_s: float, *,
                url: str) -> tuple[Taken | None, str | None]:
    return await lease_rows.try_take(sessions, me, lease_s, url)


async def _holder_url(sessions: Sessions) -> str | None:
    row, _ = await lease_rows.read(sessions)
    return None if row is None or row.holder is None else row.holder_url


async def _renew(sessions: Sessions, me: str, epoch: int, lease_s: float) -> tuple[bool, bool]:
    renewal = await lease_rows.renew(sessions, me, epoch, lease_s)
    return renewal.held, renewal.handover_requested


def _gauge(app: web.Application) -> None:
    node_gauge(app[REGISTRY], app[NODE])


def node_gauge(registry: CollectorRegistry, node: Node) -> None:
    """``cti_node_active{node}``: 1 while this node is the active one (takes calls)."""
    gauge = Gauge("cti_node_active", "1 while this node is the active one of the pair (takes calls)",
                  ["node"], registry=registry)
    gauge.labels(node=node.node_id).set_function(lambda: 1.0 if node.role is Role.ACTIVE else 0.0)
