"""Turns call events into stored timelines and tickets, through the journal, in order.

``record()`` bounds the event (``cti.tickets.bounds``) and returns once it is durable on local
disk. ``submit()`` does the same without waiting: the event joins the commit queue at once (in
order) and the returned future completes when it is on disk. The queue is written by one task
with one write and one fsync per batch (group commit), so a burst of N events costs a handful of
fsyncs instead of N; the queue has a bound (``max_queued``, ``WriteQueueFull`` beyond it) and a
depth (``queued``) for the metrics. One task drains the journal into the database, in order.
Failures are of two kinds:

- *permanent*: this record can never be stored (a data or integrity error, a value the driver
  cannot encode, a record that does not parse). It is set aside in ``<journal>.rejected`` with
  its reason, counted (``on_rejected``), logged, and the queue moves on.
- *transient*: the database is away (connection refused or lost, timeout, server shutting down,
  deadlock). The writer logs, counts, backs off and tries the same record again; later records
  wait on disk behind it, in order.

An error that fits neither (an unknown SQLSTATE, say) counts as transient, but a record that fails
so ``POISON_ATTEMPTS`` times in a row while the database answers ``SELECT 1`` is set aside: a
database that is up and keeps refusing one record will refuse it forever. Errors that are surely
the server's or the connection's (SQLSTATE classes 08, 40, 53, 57, 58, a lost connection) never
count towards that.
``flush()`` waits until everything recorded so far is in the database. What is waiting is applied
in batches (one transaction each); a batch that fails is retried record by record.

Under load the drain gathers: a batch costs a fixed ten statements or so (~2.5 ms of CPU on the
service's one loop) plus ~30 µs per event, so one drain per ``DRAIN_GATHER_S`` at most, with
what came in meanwhile, instead of one every few milliseconds with a handful of events (at
300 calls/s the ticket path went from over a third of the main thread's samples to about a
tenth of a core; ``bench/bench_ticket_batches.py``, ``bench/RESULTS.md``). A lone event is
applied at once (the previous drain is long past); a full batch (``DRAIN_BATCH``) or a
``flush()`` does not wait either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError

from cti.clock import Clock
from cti.storage.tickets import Sessions, apply_call_event, apply_call_events
from cti.tickets.bounds import clean_value, storage_call_id
from cti.tickets.journal import Entry, Journal, JournalFull
from cti.tickets.rules import CallRecordEvent

log = structlog.get_logger()
BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 15.0
POISON_ATTEMPTS = 3
PROBE_TIMEOUT_S = 2.0
DRAIN_BATCH = 500  # journal records per batch (one transaction)
DRAIN_GATHER_S = 0.05  # under load, at most one drain this often (see above)
MAX_QUEUED = 20_000  # events waiting for their fsync; at ~6 per call, some 3,000 calls
# SQLSTATE classes that say "this record", not "this connection": data exception, integrity
# constraint violation, program limit exceeded (e.g. an index row too large).
PERMANENT_SQLSTATE_CLASSES = frozenset({"22", "23", "54"})
# SQLSTATE classes that say "the server or the connection", never "this record": connection
# exception, transaction rollback (serialization, deadlock), insufficient resources, operator
# intervention (admin shutdown, "the database system is shutting down"), system error.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


class WriteQueueFull(JournalFull):
    """More than ``max_queued`` events wait for the disk: the disk is stuck or far too slow."""


class RecordRefused(Exception):
    """A record the database can never accept; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def permanent_reason(exc: BaseException) -> str | None:
    """Why ``exc`` means the record can never be stored, or None for a transient failure."""
    if isinstance(exc, ValueError | KeyError | TypeError):  # the record itself does not parse
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        sqlstate = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        name = type(getattr(orig, "__cause__", None) or orig).__name__
        if sqlstate[:2] in PERMANENT_SQLSTATE_CLASSES:
            return f"{name} (SQLSTATE {sqlstate}): {str(orig).strip()[:300]}"
        cause = getattr(orig, "__cause__", None)
        if isinstance(cause, ValueError):  # client-side encoding (asyncpg DataError, Unicode)
            return f"{type(cause).__name__}: {cause}"
        if type(exc).__name__ in ("DataError", "IntegrityError") and not sqlstate:  # SQLite
            return f"{type(exc).__name__}: {str(orig)[:300]}"
        return None
    if isinstance(exc, StatementError):  # a bind parameter could not be converted
        return f"{type(exc.orig).__name__ if exc.orig else 'StatementError'}: {exc}"[:400]
    return None


def surely_transient(exc: BaseException) -> bool:
    """The database or the connection failed, whatever the record: never a reason to set it aside."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
    return isinstance(exc, OSError | TimeoutError)


def bounded(event: CallRecordEvent) -> CallRecordEvent:
    """The event as it may be journalled and stored (see ``cti.tickets.bounds``)."""
    return CallRecordEvent(storage_call_id(event.call_id), event.seq, event.at, event.kind,
                           clean_value(dict(event.data)))


@dataclass(frozen=True, slots=True)
class Rejection:
    call_id: str
    kind: str
    reason: str


class TicketWriter:
    def __init__(
        self,
        journal: Journal,
        sessions: Sessions,
        clock: Clock,
        *,
        on_write_error: Callable[[], None] = lambda: None,
        on_rejected: Callable[[], None] = lambda: None,
        on_applied: Callable[[CallRecordEvent, int], None] = lambda event, ticket_id: None,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self._journal = journal
        self._max_queued = max_queued
        self._queue: list[tuple[dict[str, object], asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._sessions = sessions
        self._clock = clock
        self._on_write_error = on_write_error
        self._on_rejected = on_rejected
        self.on_applied = on_applied
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()  # set while a flush() waits: no gathering
        self._flushing = 0
        self._progress = asyncio.Condition()
        self._failing = False
        self.last_error = ""
        self.last_rejection: Rejection | None = None
        self._stuck_at = -1  # journal offset of the record that failed last, and how often
        self._stuck_attempts = 0

    @property
    def backlog_bytes(self) -> int:
        return self._journal.backlog_bytes

    @property
    def healthy(self) -> bool:
        return not self._failing

    @property
    def rejected_count(self) -> int:
        return self._journal.rejected_count

    @property
    def rejected_path(self) -> str:
        return str(self._journal.rejected_path)

    @property
    def queued(self) -> int:
        """Events submitted and not yet on disk."""
        return len(self._queue)

    async def record(self, event: CallRecordEvent) -> None:
        """Journal ``event``; returns once it is on disk."""
        await self.submit(event)

    def submit(self, event: CallRecordEvent) -> asyncio.Future[None]:
        """Queue ``event`` for the journal now, in order; the future completes once it is on
        disk (or fails with ``JournalFull``/``OSError``). Raises ``WriteQueueFull`` at once
        when ``max_queued`` events already wait."""
        if len(self._queue) >= self._max_queued:
            raise WriteQueueFull(f"{len(self._queue)} call events wait for the journal "
                                 f"(bound {self._max_queued})")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((bounded(event).to_json(), future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit(), name="journal-commit")
        return future

    async def _commit(self) -> None:
        """Write what is queued, batch after batch, until the queue is empty."""
        while self._queue:
            batch, self._queue = self._queue, []
            results: list[int | JournalFull | OSError]
            try:
                results = list(await asyncio.to_thread(self._journal.append_many,
                                                       [record for record, _ in batch]))
            except OSError as exc:
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(None)
            self._wake.set()

    async def _committed(self) -> None:
        """Wait until everything submitted so far is on disk (failed or not)."""
        task = self._committer
        if task is not None and not task.done():
            await asyncio.wait([task])

    async def flush(self) -> None:
        """Wait until every event recorded before this call is in the database.

        Waits as long as the database stays away; callers bound it with ``asyncio.timeout``.
        """
        await self._committed()
        target = self._journal.size
        self._flushing += 1
        self._hurry.set()
        try:
            async with self._progress:
                await self._progress.wait_for(
                    lambda: self._journal.applied_offset >= target or self._journal.size < target
                )
        finally:
            self._flushing -= 1
            if not self._flushing:
                self._hurry.clear()

    async def run(self) -> None:
        """The drain loop; runs until cancelled."""
        backoff = BACKOFF_START_S
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                drained = await self._drain_once()
            except (SQLAlchemyError, OSError) as exc:
                self._failing = True
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                self._on_write_error()
                log.error(
                    "tickets.write_failed",
                    error=type(exc).__name__,
                    detail=str(exc)[:300],
                    backlog_bytes=self._journal.backlog_bytes,
                    attempts=self._stuck_attempts,
                    retry_in_s=backoff,
                )
                await asyncio.sleep(backoff)  # new records do not cut it short
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            if self._failing:
                log.info("tickets.write_recovered", backlog_bytes=self._journal.backlog_bytes)
                self._failing = False
                self.last_error = ""
            backoff = BACKOFF_START_S
            if not drained:
                self._wake.clear()
                if self._journal.backlog_bytes == 0:
                    await self._wake.wait()
            elif drained < DRAIN_BATCH:
                await self._gather(started + DRAIN_GATHER_S - loop.time())

    async def _gather(self, rest_s: float) -> None:
        """Let events gather for the next batch for ``rest_s`` (unless a flush waits)."""
        if rest_s <= 0 or self._hurry.is_set():
            return
        try:
            async with asyncio.timeout(rest_s):
                await self._hurry.wait()
        except TimeoutError:
            pass

    async def _apply(self, offset: int, record: dict[str, object]) -> None:
        try:
            if self._stuck_at == offset and self._stuck_attempts >= POISON_ATTEMPTS \
                    and await self._database_answers():
                raise RecordRefused(f"refused {self._stuck_attempts} times while the database "
                                    f"answers; last error: {self.last_error}")
            event = CallRecordEvent.from_json(record)
            ticket_id = await apply_call_event(self._sessions, event, self._clock())
        except RecordRefused as exc:
            await self._set_aside(record, exc.reason)
            return
        except (SQLAlchemyError, ValueError, KeyError, TypeError) as exc:
            reason = permanent_reason(exc)
            if reason is None:
                if not surely_transient(exc):  # unknown: counts towards the poison guard
                    self._stuck_attempts = (self._stuck_attempts + 1
                                            if self._stuck_at == offset else 1)
                    self._stuck_at = offset
                raise
            await self._set_aside(record, reason)
            return
        if ticket_id is not None:
            self.on_applied(event, ticket_id)

    async def _set_aside(self, record: dict[str, object], reason: str) -> None:
        """This record can never be stored: keep it on disk with its reason; the rest moves on."""
        self._on_write_error()
        self._on_rejected()
        await asyncio.to_thread(self._journal.set_aside, record, reason)
        self.last_rejection = Rejection(str(record.get("call_id"))[:200],
                                        str(record.get("kind"))[:32], reason[:300])
        self._stuck_at, self._stuck_attempts = -1, 0
        log.critical("tickets.event_set_aside", reason=reason[:300], call_id=record.get("call_id"),
                     kind=record.get("kind"), rejected_file=self.rejected_path)

    async def _database_answers(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S), self._sessions() as session:
                await session.execute(text("SELECT 1"))
            return True
        except (TimeoutError, OSError, SQLAlchemyError):
            return False

    async def _drain_once(self) -> int:
        """Apply what waits in the journal, up to ``DRAIN_BATCH`` records; returns how many."""
        entries = await asyncio.to_thread(self._journal.pending, DRAIN_BATCH)
        if len(entries) > 1 and await self._apply_batch(entries):
            return len(entries)
        for entry in entries:
            if "_corrupt" in entry.record:
                log.error("tickets.journal_corrupt_line", line=entry.record["_corrupt"][:200])
            else:
                await self._apply(entry.end_offset, entry.record)
            await self._applied_up_to(entry.end_offset)
        return len(entries)

    async def _apply_batch(self, entries: list[Entry]) -> bool:
        """All of ``entries`` in one transaction (one commit instead of one per event: a burst
        or a backlog drains many times faster). False when any of them fails: the caller then
        goes one by one, which tells the record that can never be stored from the rest."""
        try:
            events = [CallRecordEvent.from_json(e.record) for e in entries]
            ticket_ids = await apply_call_events(self._sessions, events, self._clock())
        except (SQLAlchemyError, OSError, ValueError, KeyError, TypeError):
            return False
        for event, ticket_id in zip(events, ticket_ids, strict=True):
            if ticket_id is not None:
                self.on_applied(event, ticket_id)
        await self._applied_up_to(entries[-1].end_offset)
        return True

    async def _applied_up_to(self, offset: int) -> None:
        await asyncio.to_thread(self._journal.mark_applied, offset)
        async with self._progress:
            self._progress.notify_all()
