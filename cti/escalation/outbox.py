"""The background sender: drains unsent escalations from the database to the SMTP server.

The state lives in the ``escalations`` table (``pending`` / ``failing`` / ``sent``, attempts,
last error), so a restart loses nothing: the next round picks up whatever is unsent. When a send
fails the sender backs off exponentially (``backoff_delay``) and tries again; ``wake()`` (called
when an escalation is opened) starts a round at once. A server that cannot be reached ends the
round (every other mail would fail the same way); a message the server refuses is marked
``failing`` and the round goes on, so one bad address never holds the others back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol

import structlog
from sqlalchemy.exc import SQLAlchemyError

from cti.clock import Clock
from cti.escalation.mailer import MailNotSent
from cti.escalation.status import check_transition
from cti.storage import escalations as store
from cti.storage.escalations import EscalationView, Sessions

log = structlog.get_logger()
BACKOFF_START_S = 2.0
BACKOFF_MAX_S = 300.0
IDLE_POLL_S = 60.0  # look at the table now and then even without a wake-up
BATCH = 20


class Sends(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def backoff_delay(failed_rounds: int, start_s: float, max_s: float) -> float:
    """Seconds to wait after ``failed_rounds`` consecutive failing rounds (1 -> start_s)."""
    if failed_rounds <= 0:
        return 0.0
    return min(max_s, start_s * 2 ** min(failed_rounds - 1, 60))


class EscalationOutbox:
    def __init__(
        self,
        sessions: Sessions,
        mailer: Sends,
        compose: Callable[[EscalationView], EmailMessage],
        clock: Clock,
        *,
        backoff_start_s: float = BACKOFF_START_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        idle_poll_s: float = IDLE_POLL_S,
        batch: int = BATCH,
    ) -> None:
        self._sessions = sessions
        self._mailer = mailer
        self._compose = compose
        self._clock = clock
        self._backoff_start_s = backoff_start_s
        self._backoff_max_s = backoff_max_s
        self._idle_poll_s = idle_poll_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self.rounds = 0  # completed rounds, for whoever waits on progress
        self.failed_rounds = 0  # consecutive rounds with a failure; 0 when healthy

    @property
    def healthy(self) -> bool:
        return self.failed_rounds == 0

    def wake(self) -> None:
        self._wake.set()

    async def wait_round(self, after: int) -> None:
        """Wait until more than ``after`` rounds have completed (bound it with asyncio.timeout)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.rounds > after)

    async def run(self) -> None:
        """Send rounds until cancelled."""
        while True:
            try:
                failures, more = await self.send_round()
            except (SQLAlchemyError, OSError) as exc:
                failures, more = 1, False
                log.error("escalation.outbox_database_error", error=type(exc).__name__,
                          detail=str(exc)[:300])
            self.failed_rounds = self.failed_rounds + 1 if failures else 0
            async with self._progress:
                self.rounds += 1
                self._progress.notify_all()
            if failures:
                delay = backoff_delay(self.failed_rounds, self._backoff_start_s, self._backoff_max_s)
                log.warning("escalation.outbox_backoff", failed_rounds=self.failed_rounds,
                            retry_in_s=delay)
            elif more:
                continue
            else:
                delay = self._idle_poll_s
            await self._sleep_or_wake(delay)

    async def send_round(self) -> tuple[int, bool]:
        """Try every unsent escalation once (up to the batch size); (failures, batch was full)."""
        due = await store.unsent(self._sessions, self._batch)
        failures = 0
        for view in due:
            try:
                await self._mailer.send(self._compose(view))
            except MailNotSent as exc:
                failures += 1
                await store.record_failure(self._sessions, view.id, exc.detail, check_transition)
                log.warning("escalation.send_failed", reference=view.reference,
                            attempt=view.attempts + 1, error=exc.detail[:300],
                            server_unreachable=exc.server_unreachable)
                if exc.server_unreachable:
                    break
                continue
            recorded = await store.record_sent(self._sessions, view.id, self._clock(),
                                               check_transition)
            log.info("escalation.sent", reference=view.reference, attempt=view.attempts + 1,
                     target=view.target, still_open=recorded)
        return failures, len(due) >= self._batch and failures == 0

    async def _sleep_or_wake(self, delay: float) -> None:
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()
