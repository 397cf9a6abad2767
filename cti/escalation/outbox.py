"""The background sender: drains due escalations from the database to the SMTP server.

The state lives in the ``escalations`` table (``pending`` / ``failing`` / ``uncertain`` /
``sent``, attempts, last error, next attempt time), so a restart loses nothing: the next round
picks up whatever is due. ``wake()`` (called when an escalation is opened) starts a round at once.

Fair order: each message backs off on its own (``next_attempt_at`` = now + ``backoff_delay`` of
its attempts) and a round takes the due ones by that time, so one bad message never blocks the
others, however often it fails. A server that cannot be reached ends the round (every other mail
would fail the same way) and the sender waits ``backoff_delay`` of the failing rounds; a message
the server refuses is marked ``failing`` and the round goes on.

A message the server may have stored (``MailMaybeSent``: connection lost after DATA, before the
reply) becomes ``uncertain``. We chose one automatic retry after ``uncertain_retry_s`` (default an
hour), with the same Message-ID (recipients' mail systems thread or drop a second copy), over a
blind immediate retry; if that retry is uncertain too, the sender stops and the escalation stays
``uncertain`` (shown in the API with the reason) until an operator records the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Protocol

import structlog
from sqlalchemy.exc import SQLAlchemyError

from cti.clock import Clock
from cti.escalation.mailer import MailMaybeSent, MailNotSent
from cti.escalation.status import check_transition
from cti.storage import escalations as store
from cti.storage.escalations import EscalationView, Sessions

log = structlog.get_logger()
BACKOFF_START_S = 2.0
BACKOFF_MAX_S = 300.0
IDLE_POLL_S = 60.0  # look at the table now and then even without a wake-up
UNCERTAIN_RETRY_S = 3600.0  # the one retry of a mail the server may have stored
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
        uncertain_retry_s: float = UNCERTAIN_RETRY_S,
        batch: int = BATCH,
    ) -> None:
        self._sessions = sessions
        self._mailer = mailer
        self._compose = compose
        self._clock = clock
        self._backoff_start_s = backoff_start_s
        self._backoff_max_s = backoff_max_s
        self._idle_poll_s = idle_poll_s
        self._uncertain_retry_s = uncertain_retry_s
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
            if cancelled():  # a cancel some library turned into its own error (below): stop
                raise asyncio.CancelledError
            try:
                failures, more, server_down = await self.send_round()
            except (SQLAlchemyError, OSError) as exc:
                if cancelled():  # a driver turned our cancellation into its own error
                    raise asyncio.CancelledError from exc
                failures, more, server_down = 1, False, True
                log.error("escalation.outbox_database_error", error=type(exc).__name__,
                          detail=str(exc)[:300])
            self.failed_rounds = self.failed_rounds + 1 if failures else 0
            async with self._progress:
                self.rounds += 1
                self._progress.notify_all()
            if server_down:
                delay = backoff_delay(self.failed_rounds, self._backoff_start_s, self._backoff_max_s)
                log.warning("escalation.outbox_backoff", failed_rounds=self.failed_rounds,
                            retry_in_s=delay)
            elif more:
                continue
            else:
                delay = await self._until_next_due()
            await self._sleep_or_wake(delay)

    async def send_round(self) -> tuple[int, bool, bool]:
        """Try each due escalation once (up to the batch size), the longest-due first;
        (failures, batch was full, server unreachable)."""
        due = await store.unsent(self._sessions, self._batch, self._clock())
        failures = 0
        for view in due:
            attempt = view.attempts + 1
            try:
                await self._mailer.send(self._compose(view))
            except MailMaybeSent as exc:
                failures += 1
                retry_at = (self._clock() + timedelta(seconds=self._uncertain_retry_s)
                            if view.status != "uncertain" else None)
                note = (f"{exc.detail}; one retry with the same Message-ID at "
                        f"{retry_at.isoformat()}" if retry_at else
                        f"{exc.detail}; uncertain twice: no more automatic tries, "
                        "ask the recipient or record the answer")
                await store.record_uncertain(self._sessions, view.id, note, check_transition,
                                             retry_at)
                log.error("escalation.send_uncertain", reference=view.reference, attempt=attempt,
                          retry_at=retry_at.isoformat() if retry_at else None,
                          error=exc.detail[:300])
                continue
            except MailNotSent as exc:
                failures += 1
                retry_at = self._clock() + timedelta(seconds=backoff_delay(
                    attempt, self._backoff_start_s, self._backoff_max_s))
                await store.record_failure(self._sessions, view.id, exc.detail, check_transition,
                                           retry_at)
                log.warning("escalation.send_failed", reference=view.reference,
                            attempt=attempt, error=exc.detail[:300],
                            server_unreachable=exc.server_unreachable,
                            retry_at=retry_at.isoformat())
                if exc.server_unreachable:
                    return failures, False, True
                continue
            recorded = await store.record_sent(self._sessions, view.id, self._clock(),
                                               check_transition)
            log.info("escalation.sent", reference=view.reference, attempt=attempt,
                     target=view.target, still_open=recorded)
        return failures, len(due) >= self._batch, False

    async def _until_next_due(self) -> float:
        """Seconds until the earliest scheduled retry, at most the idle poll."""
        at = await store.next_due_at(self._sessions)
        if at is None:
            return self._idle_poll_s
        return min(self._idle_poll_s, max(0.0, (at - self._clock()).total_seconds()))

    async def _sleep_or_wake(self, delay: float) -> None:
        if cancelled():  # asked to stop during the round (and the round swallowed it)
            raise asyncio.CancelledError
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            # Python 3.11's timeout turns a Task.cancel() that lands as it expires into this
            # TimeoutError: the service's stop would then wait on this loop for ever.
            if cancelled():
                raise asyncio.CancelledError from None
        self._wake.clear()


def cancelled() -> bool:
    """This task has been asked to stop (``Task.cancel``), whatever exception it now sees."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
