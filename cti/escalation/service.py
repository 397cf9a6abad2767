"""Opening escalations and taking their answers back; the one place that turns requests into
stored escalations, queued mails, console pushes and metrics.

The answer is *appended* to the ticket's ``answer`` field under a heading with the escalation
reference, the contact and the time, so what the operator wrote stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from cti.clock import Clock, wire_time_or_none
from cti.config import BusinessCalendar, Service, Settings
from cti.errors import IllegalTransition, InvalidRequest, NotFound, StaleWrite
from cti.escalation import business_time
from cti.escalation.errors import AlreadyAnswered, NoEscalationContact, WrongReplyToken
from cti.escalation.message import EscalationContent, content
from cti.escalation.status import check_transition
from cti.escalation.tokens import ReplyTokens
from cti.floor.feed import ConsoleFeed
from cti.privacy.redaction import Redactor
from cti.storage import escalations as store
from cti.storage.escalations import EscalationFilter, EscalationView, Sessions
from cti.storage.tickets import StaleTicket, TicketView
from cti.tickets.status import IllegalTicketTransition
from cti.tickets.status import check_transition as check_ticket_transition

log = structlog.get_logger()
TARGETS = ("city", "vendor")
MAX_NOTE = 4000
MAX_ANSWER = 8000
MAX_FROM = 200


class EscalationMetrics(Protocol):
    def escalation_opened(self, target: str) -> None: ...
    def escalation_closed(self, target: str) -> None: ...
    def escalations_open(self, counts_by_target: dict[str, int]) -> None: ...


@dataclass(frozen=True, slots=True)
class Answered:
    escalation: EscalationView
    ticket_status: str


class EscalationService:
    def __init__(
        self,
        sessions: Sessions,
        settings: Settings,
        calendar: BusinessCalendar,
        redactor: Redactor,
        tokens: ReplyTokens,
        metrics: EscalationMetrics,
        feed: ConsoleFeed,
        clock: Clock,
        *,
        wake_sender: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._calendar = calendar
        self._redactor = redactor
        self._tokens = tokens
        self._metrics = metrics
        self._feed = feed
        self._clock = clock
        self.wake_sender = wake_sender

    async def load_metrics(self) -> None:
        """Set the open-escalations gauge from the table (at start-up)."""
        self._metrics.escalations_open(await store.count_open_by_target(self._sessions))

    async def open(self, ticket: TicketView, target: object, note: object, by: str) -> EscalationView:
        if target not in TARGETS:
            raise InvalidRequest(f"target must be one of {', '.join(TARGETS)}", field="target",
                                 got=str(target)[:40])
        note_text = _text(note, "note", MAX_NOTE, required=False)
        service = self._service(ticket.service)
        contact = next((c for c in service.contacts if c.kind == target), None) if service else None
        if service is None or contact is None:
            raise NoEscalationContact(
                f"service {ticket.service or '(none)'} has no {target} contact in the configuration",
                service=ticket.service, target=target)
        redact = self._redact
        body = content(EscalationContent(
            service_ja=redact(service.name_ja), service_en=redact(service.name_en),
            category=redact(ticket.category) if ticket.category else None,
            summary=redact(ticket.summary), note=redact(note_text),
        ))
        now = self._clock()
        due = business_time.due_at(self._calendar, now,
                                   self._settings.escalation.overdue_business_hours)
        try:
            view = await store.open_escalation(
                self._sessions,
                store.NewEscalation(ticket.id, contact.kind, contact.name, contact.email, body, due),
                now, check_ticket_status=check_ticket_transition,
                token_hash=self._tokens.stored_hash,
            )
        except IllegalTicketTransition as exc:
            raise IllegalTransition(str(exc), current=exc.current, wanted=exc.wanted) from None
        except store.TicketMissing:
            raise NotFound(f"no ticket {ticket.id}") from None
        except StaleTicket as exc:
            raise StaleWrite(str(exc)) from None
        self._metrics.escalation_opened(view.target)
        log.info("escalation.opened", reference=view.reference, ticket_id=ticket.id,
                 target=view.target, due_at=due.isoformat(), by=by)
        self._feed.to_floor({"type": "escalation_opened", **self._event(view)})
        self.wake_sender()
        return view

    async def get(self, reference: str) -> EscalationView:
        try:
            return await store.get_escalation(self._sessions, reference)
        except store.EscalationNotFound:
            raise NotFound(f"no escalation {reference}") from None

    async def reply(self, reference: str, token: object, answer: object, sender: object) -> Answered:
        """An answer through the reply URL, authenticated by the escalation's token."""
        view = await self.get(reference)
        if not isinstance(token, str) or not self._tokens.matches(token, view.token_hash):
            log.warning("escalation.reply_wrong_token", reference=reference)
            raise WrongReplyToken("the token does not belong to this escalation",
                                  reference=reference)
        from_text = _text(sender, "from", MAX_FROM, required=False)
        answered_by = self._redact(from_text).strip() or view.contact_name
        return await self._record(view, answer, answered_by, channel="reply")

    async def answer(self, view: EscalationView, answer: object, by: str) -> Answered:
        """An answer the operator typed in (the vendor phoned, or replied to the mailbox)."""
        return await self._record(view, answer, by, channel="operator")

    async def list(
        self, *, status: str | None, ticket_id: int | None, operator_id: str | None,
        overdue_only: bool, limit: int,
    ) -> tuple[datetime, list[EscalationView]]:
        now = self._clock()
        found = await store.list_escalations(self._sessions, EscalationFilter(
            status=status, ticket_id=ticket_id, operator_id=operator_id,
            overdue_at=now if overdue_only else None, limit=limit))
        return now, found

    async def _record(self, view: EscalationView, answer: object, answered_by: str, *,
                      channel: str) -> Answered:
        if view.status == store.ANSWERED:
            raise AlreadyAnswered(f"escalation {view.reference} is already answered",
                                  answered_at=wire_time_or_none(view.answered_at, self._calendar.zone))
        text = self._redact(_text(answer, "answer", MAX_ANSWER, required=True))
        now = self._clock()
        local = now.astimezone(self._calendar.zone)
        heading = (f"【{view.reference} 回答 / answer: {view.contact_name}, "
                   f"{local:%Y-%m-%d %H:%M}】")
        try:
            recorded = await store.record_answer(
                self._sessions, view.reference, answer=text, answered_by=answered_by,
                ticket_note=f"{heading}\n{text}", now=now, check=check_transition,
                check_ticket_status=check_ticket_transition)
        except store.AlreadyAnswered as exc:
            raise AlreadyAnswered(f"escalation {view.reference} is already answered",
                                  answered_at=wire_time_or_none(exc.view.answered_at,
                                                                self._calendar.zone)) from None
        except store.EscalationNotFound:
            raise NotFound(f"no escalation {view.reference}") from None
        done = recorded.escalation
        self._metrics.escalation_closed(done.target)
        log.info("escalation.answered", reference=done.reference, ticket_id=done.ticket_id,
                 channel=channel, ticket_status=recorded.ticket_status)
        event = {"type": "escalation_answered", **self._event(done),
                 "ticket_status": recorded.ticket_status, "answer": text, "channel": channel}
        if done.ticket_operator_id:
            self._feed.to_operator(done.ticket_operator_id, event)
        self._feed.to_floor(event)
        return Answered(done, recorded.ticket_status)

    def overdue(self, view: EscalationView, now: datetime) -> bool:
        return business_time.is_overdue(view.due_at, view.answered_at, now)

    def business_age(self, view: EscalationView, now: datetime) -> timedelta | None:
        """Business time from the escalation to its answer (or to now while it waits); None
        when the span is too long to count."""
        try:
            return business_time.business_time_between(self._calendar, view.created_at,
                                                       view.answered_at or now)
        except business_time.NoBusinessDays:
            return None

    def _service(self, service_id: str | None) -> Service | None:
        if service_id is None:
            return None
        try:
            return self._settings.service(service_id)
        except KeyError:
            return None

    def _redact(self, text: str) -> str:
        return self._redactor.redact(text).text

    @staticmethod
    def _event(view: EscalationView) -> dict[str, object]:
        return {"reference": view.reference, "ticket_id": view.ticket_id,
                "ticket_reference": view.ticket_reference, "target": view.target,
                "status": view.status}


def _text(value: object, name: str, limit: int, *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidRequest(f"{name} must be {'non-empty ' if required else ''}text", field=name)
    if len(value) > limit:
        raise InvalidRequest(f"{name} is longer than {limit} characters", field=name,
                             length=len(value), limit=limit)
    return value
