"""This node's role in the pair, and the task that keeps it true.

``Node.admits()`` is what the SIP front door and the call centre consult before they take a call:
true only while this node is active *and* its local lease deadline has not passed. The deadline
is checked on every call, so a node that cannot renew (database unreachable, process stalled)
stops taking calls at that moment even if its renewal task is stuck: that is the fencing.

One node without a lease store (SQLite, the embedded default) is always active.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import SQLAlchemyError

from cti.ha.lease import Taken, local_deadline

log = structlog.get_logger()


class Role(enum.StrEnum):
    ACTIVE = "active"
    STANDBY = "standby"


@dataclass(frozen=True, slots=True)
class LeaseStore:
    """The lease operations (``storage.lease`` bound to a session factory)."""

    take: Callable[[str, float], Awaitable[tuple[Taken | None, str | None]]]  # + holder's URL
    renew: Callable[[str, int, float], Awaitable[tuple[bool, bool]]]  # held, handover asked
    release: Callable[[str, int], Awaitable[bool]]
    holder_url: Callable[[], Awaitable[str | None]] = lambda: _nobody()


async def _nobody() -> str | None:
    return None


OnTakeover = Callable[[Taken], Awaitable[None]]
OnRole = Callable[["Node"], None]


class Node:
    def __init__(
        self,
        node_id: str,
        store: LeaseStore | None,
        *,
        lease_s: float,
        renew_s: float,
        monotonic: Callable[[], float],
        on_takeover: OnTakeover | None = None,
        on_role: OnRole = lambda node: None,
    ) -> None:
        self.node_id = node_id
        self._store = store
        self._lease_s = lease_s
        self._renew_s = renew_s
        self._monotonic = monotonic
        self._on_takeover = on_takeover
        self._on_role = on_role
        self.epoch = 0
        self._valid_until = float("inf") if store is None else float("-inf")
        self._role = Role.ACTIVE if store is None else Role.STANDBY
        self.handing_over = False
        self.active_url: str | None = None  # the active node's console URL (lease row)
        self._url_lock = asyncio.Lock()
        self._url_retry_at = float("-inf")  # learn_active_url read nothing: not before this
        self.takeovers = 0
        self.became_active_at: float | None = None
        self._changed = asyncio.Event()
        self._quiet_until = float("-inf")  # after a handover: leave the lease to the other node

    @property
    def paired(self) -> bool:
        return self._store is not None

    @property
    def role(self) -> Role:
        """Active only while the lease is held and its local deadline has not passed."""
        if self._role is Role.ACTIVE and self._monotonic() >= self._valid_until:
            return Role.STANDBY
        return self._role

    def admits(self) -> bool:
        """May this node take a new call now?"""
        return self.role is Role.ACTIVE and not self.handing_over

    async def wait_for_role(self, role: Role) -> None:
        while self.role is not role:
            self._changed.clear()
            await self._changed.wait()

    async def learn_active_url(self) -> str | None:
        """The active node's console URL; a standby that does not know it yet (right after a
        handover or its own start, until its next round) reads the lease row now, so that a
        console's request is forwarded instead of refused. None when no node holds the lease
        or the row cannot be read."""
        if self.active_url is not None or self._store is None or self.role is not Role.STANDBY:
            return self.active_url
        async with self._url_lock:  # one read for the requests that arrive together
            if self.active_url is not None or self._monotonic() < self._url_retry_at:
                return self.active_url  # learnt meanwhile, or read in vain a moment ago
            try:
                async with asyncio.timeout(self._lease_s):
                    url = await self._store.holder_url()
            except (TimeoutError, OSError, SQLAlchemyError) as exc:
                log.warning("ha.read_failed", node=self.node_id, error=type(exc).__name__)
                url = None
            if url is None:  # a database away is not asked once per request
                self._url_retry_at = self._monotonic() + self._renew_s
            elif self.active_url is None and self._role is Role.STANDBY:  # no round changed it
                self.active_url = url
            return self.active_url

    # -- the lease task --------------------------------------------------------------------
    async def start(self) -> None:
        """One attempt to take the lease before the service says it started, so that a node
        that finds the lease free is active from its first call on."""
        if self._store is not None:
            await self._try_take(self._store)

    async def run(self) -> None:
        """Renew (active) or try to take (standby) every ``renew_s`` until cancelled."""
        if self._store is None:
            return
        while True:
            if self._role is Role.ACTIVE:
                await self._renew(self._store)
            else:
                await self._try_take(self._store)
            await asyncio.sleep(self._renew_s)

    async def _renew(self, store: LeaseStore) -> None:
        sent = self._monotonic()
        budget = max(0.05, self._valid_until - sent)
        try:
            async with asyncio.timeout(budget):
                held, handover = await store.renew(self.node_id, self.epoch, self._lease_s)
        except (TimeoutError, OSError, SQLAlchemyError) as exc:
            if self._monotonic() >= self._valid_until:
                self._become_standby("lease_not_renewed", error=type(exc).__name__)
            else:
                log.warning("ha.renew_failed", node=self.node_id, epoch=self.epoch,
                            error=type(exc).__name__)
            return
        if not held:
            self._become_standby("lease_lost")
            return
        self._valid_until = local_deadline(sent, self._lease_s, self._renew_s)
        if handover and not self.handing_over:
            await self.hand_over()

    async def _try_take(self, store: LeaseStore) -> None:
        sent = self._monotonic()
        if sent < self._quiet_until:  # leave the lease to the other node; learn where it is
            try:
                async with asyncio.timeout(self._lease_s):
                    self.active_url = await store.holder_url()
            except (TimeoutError, OSError, SQLAlchemyError) as exc:
                log.warning("ha.read_failed", node=self.node_id, error=type(exc).__name__)
            return
        try:
            async with asyncio.timeout(self._lease_s):
                result, self.active_url = await store.take(self.node_id, self._lease_s)
        except (TimeoutError, OSError, SQLAlchemyError) as exc:
            log.warning("ha.take_failed", node=self.node_id, error=type(exc).__name__)
            return
        if result is None:
            return
        self.epoch = result.epoch
        self._valid_until = local_deadline(sent, self._lease_s, self._renew_s)
        log.warning("ha.lease_taken", node=self.node_id, epoch=result.epoch,
                    previous=result.previous, dead=result.dead)
        if self._on_takeover is not None:
            try:  # fenced inside (lease lost meanwhile): stay standby, try again next round
                await self._take_over(store, result)
            except (RuntimeError, OSError, TimeoutError, SQLAlchemyError) as exc:  # Fenced too
                log.error("ha.takeover_failed", node=self.node_id, epoch=result.epoch,
                          error=type(exc).__name__, detail=str(exc)[:300])
                self._become_standby("takeover_failed")  # not released: the next taker (this
                return  # node again, or the other) still closes the dead node's calls
        self.handing_over = False
        self.takeovers += 1
        self.became_active_at = self._monotonic()
        self._set_role(Role.ACTIVE, "lease_taken")

    async def _take_over(self, store: LeaseStore, taken: Taken) -> None:
        """Run the takeover while renewing the lease (closing many calls can outlast it)."""
        assert self._on_takeover is not None
        work = asyncio.ensure_future(self._on_takeover(taken))
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=self._renew_s)
                if done:
                    work.result()
                    return
                sent = self._monotonic()
                async with asyncio.timeout(max(0.05, self._valid_until - sent)):
                    held, _ = await store.renew(self.node_id, taken.epoch, self._lease_s)
                if not held:
                    raise RuntimeError("lease lost during the takeover")
                self._valid_until = local_deadline(sent, self._lease_s, self._renew_s)
        finally:
            if not work.done():
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)

    async def hand_over(self) -> None:
        """Planned switch-over: stop taking calls now, give the lease up; calls already here
        (IVR, queue, talking) finish on this node."""
        if self._store is None or self._role is not Role.ACTIVE:
            return
        self.handing_over = True
        log.warning("ha.handing_over", node=self.node_id, epoch=self.epoch)
        await self._give_up(self._store)
        self._quiet_until = self._monotonic() + self._lease_s
        self._become_standby("handed_over")

    async def stop(self) -> None:
        """Clean stop: give the lease up so that the standby need not wait for it to expire."""
        if self._store is not None and self._role is Role.ACTIVE:
            self.handing_over = True
            await self._give_up(self._store)
            self._become_standby("stopped")

    async def _give_up(self, store: LeaseStore) -> None:
        try:
            async with asyncio.timeout(self._lease_s):
                await store.release(self.node_id, self.epoch)
        except (TimeoutError, OSError, SQLAlchemyError) as exc:  # it expires by itself
            log.warning("ha.release_failed", node=self.node_id, error=type(exc).__name__)
        self._valid_until = float("-inf")

    def _become_standby(self, reason: str, **extra: object) -> None:
        self._valid_until = float("-inf")
        self.active_url = None  # until the lease row names the new active node
        self._set_role(Role.STANDBY, reason, **extra)

    def _set_role(self, role: Role, reason: str, **extra: object) -> None:
        if role is self._role:
            return
        self._role = role
        log.warning("ha.role_changed", node=self.node_id, role=role.value, epoch=self.epoch,
                    reason=reason, **extra)
        self._changed.set()
        self._on_role(self)
