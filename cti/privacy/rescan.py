"""Re-redaction of stored records with the current redactor (``cti privacy rescan``).

Records written before the redactor learnt a form (a Sapporo grid address, a bare name) still
hold it. A rescan reads tickets (summary, answer), call timelines (the text values of their
events), escalations (message, answer, answered by) and knowledge articles with their versions,
redacts every text again, and writes back what changed, in batches, each record in its own
transaction, so one bad record never blocks the others. A ticket's kept words (audited
``ticket.keep`` choices) are honoured. Every changed record gets an audit entry
(``privacy.rescan``) naming the fields and the kinds found, never the text.

Redaction is idempotent, so a second rescan changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import structlog
from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.storage import audit
from cti.storage.tables import (
    AuditEntryRow,
    CallEventRow,
    EscalationRow,
    KnowledgeArticleRow,
    KnowledgeArticleVersionRow,
    TicketRow,
)

from .keep import AUDIT_ACTION as KEEP_ACTION
from .redaction import Redactor

log = structlog.get_logger(__name__)

RECORD_KINDS: Final = ("tickets", "timelines", "escalations", "articles")
AUDIT_ACTION: Final = "privacy.rescan"
BATCH: Final = 200
# Timeline values that are identifiers or already masked, never free text.
_NOT_TEXT: Final = ("_id", "_hash", "caller_display", "service", "outcome", "hung_up_by", "kind")

Sessions = async_sessionmaker[AsyncSession]


@dataclass(slots=True)
class Tally:
    scanned: int = 0
    changed: int = 0
    failed: int = 0
    found: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Rescan:
    redactor: Redactor
    since: datetime | None = None
    dry_run: bool = False
    actor: str = "cli"


async def rescan(sessions: Sessions, job: Rescan, now: datetime) -> dict[str, Tally]:
    """Redact every stored text again; returns, per record kind, what was (or would be) changed."""
    keep = await _kept_words(sessions)
    report = {kind: Tally() for kind in RECORD_KINDS}
    specs: list[tuple[str, Any, Any, tuple[str, ...], Callable[[Any], str]]] = [
        ("tickets", TicketRow, TicketRow.updated_at, ("summary", "answer"), lambda r: r.reference),
        ("timelines", CallEventRow, CallEventRow.at, ("data",), lambda r: f"{r.call_id}#{r.seq}"),
        ("escalations", EscalationRow, func.coalesce(EscalationRow.answered_at, EscalationRow.created_at),
         ("message", "answer", "answered_by"),
         lambda r: r.reference),
        ("articles", KnowledgeArticleRow, KnowledgeArticleRow.updated_at, ("title", "question", "answer"),
         lambda r: f"KB-{r.id}"),
        ("articles", KnowledgeArticleVersionRow, KnowledgeArticleVersionRow.edited_at,
         ("title", "question", "answer"), lambda r: f"KB-{r.article_id}v{r.version}"),
    ]
    for kind, table, stamp, fields, name in specs:
        await _scan(sessions, job, now, keep, report[kind], kind, table, stamp, fields, name)
    return report


async def _kept_words(sessions: Sessions) -> dict[str, tuple[str, ...]]:
    """Kept words per ticket reference, from the audit log."""
    words: dict[str, set[str]] = {}
    async with sessions() as session:
        rows = await session.execute(
            select(AuditEntryRow.target, AuditEntryRow.detail).where(AuditEntryRow.action == KEEP_ACTION))
        for target, detail in rows:
            listed = detail.get("words", []) if isinstance(detail, dict) else []
            words.setdefault(target, set()).update(w for w in listed if isinstance(w, str))
    return {target: tuple(sorted(found)) for target, found in words.items()}


def _redact_value(redactor: Redactor, value: Any, keep: Iterable[str], found: Counter[str]) -> Any:
    if isinstance(value, str):
        result = redactor.redact(value, keep)
        found.update(f.kind for f in result.found)
        return result.text
    if isinstance(value, dict):  # a timeline event's data
        return {k: v if k.endswith(_NOT_TEXT) else _redact_value(redactor, v, keep, found)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(redactor, v, keep, found) for v in value]
    return value


async def _scan(sessions: Sessions, job: Rescan, now: datetime, keep: dict[str, tuple[str, ...]],
                tally: Tally, kind: str, table: Any, stamp: Any, fields: tuple[str, ...],
                name: Callable[[Any], str]) -> None:
    keys = table.__mapper__.primary_key
    after: tuple[Any, ...] | None = None
    while True:
        query = select(table).order_by(*keys).limit(BATCH)
        if job.since is not None:
            query = query.where(stamp >= job.since)
        if after is not None:
            query = query.where(_after(keys, after))
        async with sessions() as session:
            rows = list((await session.scalars(query)).all())
        if not rows:
            return
        for row in rows:
            await _one(sessions, job, now, keep, tally, kind, table, row, fields, name)
        after = tuple(getattr(rows[-1], k.key) for k in keys)


def _after(keys: Any, after: tuple[Any, ...]) -> Any:
    return tuple_(*keys) > tuple_(*after) if len(after) > 1 else keys[0] > after[0]


async def _one(sessions: Sessions, job: Rescan, now: datetime, keep: dict[str, tuple[str, ...]],
               tally: Tally, kind: str, table: Any, row: Any, fields: tuple[str, ...],
               name: Callable[[Any], str]) -> None:
    tally.scanned += 1
    target = name(row)
    kept = keep.get(target, ())
    found: Counter[str] = Counter()
    changes = {}
    for column in fields:
        value = getattr(row, column)
        if value is None:
            continue
        redacted = _redact_value(job.redactor, value, kept, found)
        if redacted != value:
            changes[column] = redacted
    if not changes:
        return
    tally.changed += 1
    tally.found.update(found)
    if job.dry_run:
        return
    try:
        async with sessions() as session, session.begin():
            key = tuple(getattr(row, k.key) for k in table.__mapper__.primary_key)
            stored = await session.get(table, key)
            if stored is None:
                return
            for column, value in changes.items():
                setattr(stored, column, value)
            if table is TicketRow:
                stored.version += 1  # an operator's stale edit is refused, not merged over the scrub
        await audit.record(sessions, audit.AuditEntry(
            now, job.actor, "admin", AUDIT_ACTION, f"{kind}:{target}",
            {"fields": sorted(changes), "kinds": dict(sorted(found.items()))}))
    except SQLAlchemyError as exc:
        tally.failed += 1
        log.error("privacy.rescan_failed", record=f"{kind}:{target}", error=type(exc).__name__)
