"""The call centre: turns telephony events into IVR and routing decisions, and decisions into I/O.

The one place where ``CallControl`` (SIP), the IVR and the router (both sans-IO), the ticket
journal, the metrics and the console feed meet. Everything runs on one task in arrival order,
so there is no locking: a SIP event, a console request or a timer is handled completely before
the next. Wall-clock times (for records) come from ``clock``; the IVR and router get monotonic
``now`` values from ``monotonic``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import structlog

from cti import routing
from cti.clock import Clock
from cti.floor.feed import ConsoleFeed
from cti.floor.hours import HelpdeskHours
from cti.metrics import CtiMetrics
from cti.privacy.caller_id import CallerIdPolicy, NotAPhoneNumber
from cti.routing.timers import Deadlines
from cti.sip import events as sip
from cti.sip import ivr
from cti.sip.control import CallControl, SocketHealth
from cti.sip.errors import CallNotFoundError
from cti.sip.message import uri_key, uri_user
from cti.tickets.journal import JournalFull
from cti.tickets.rules import CallRecordEvent
from cti.tickets.writer import TicketWriter

log = structlog.get_logger()

_CLOSED_REASONS = {
    "weekend": ivr.ClosedReason.WEEKEND,
    "holiday": ivr.ClosedReason.HOLIDAY,
    "year_end": ivr.ClosedReason.YEAR_END,
}
HOLD_PROMPT = "tone:hold"
CALLBACK_PROMPT = "callback_registered"
UNAVAILABLE_PROMPT = "operator_unavailable"
CALLBACK_KEY = "*"  # pressed while waiting: "call me back instead"
QUEUE_PREFIX = "queue-"  # a transfer to sip:queue-<service>@... puts the caller in that queue


@dataclass
class ActiveCall:
    call_id: str
    caller_tag: str
    caller_display: str
    ivr: ivr.Ivr
    seq: int = 0
    service: str | None = None
    routed: bool = False
    operator_id: str | None = None  # operator offered or connected
    leg_operator: str | None = None  # whose phone the outbound leg is ringing now
    next_operator: str | None = None  # offered while the previous leg had not ended yet
    connected: bool = False
    connected_at: float | None = None  # routing clock, for the handle time
    after_hours: bool = False
    hang_up_after_playback: bool = False
    pop: dict[str, Any] | None = None  # the last screen pop sent for this call
    extra: dict[str, Any] = field(default_factory=dict)


class CallCenter:
    def __init__(
        self,
        control: CallControl | None,
        router: routing.Router,
        hours: HelpdeskHours,
        ivr_settings: ivr.IvrSettings,
        writer: TicketWriter,
        caller_ids: CallerIdPolicy,
        metrics: CtiMetrics,
        feed: ConsoleFeed,
        operator_uris: Mapping[str, str],
        *,
        ring_timeout_s: float,
        clock: Clock,
        monotonic: Callable[[], float],
        incident_prompt: Callable[[], str | None] = lambda: None,
        node: str = "",
        admits: Callable[[], bool] = lambda: True,
    ) -> None:
        self._control = control
        self.router = router
        self._hours = hours
        self._ivr_settings = ivr_settings
        self._writer = writer
        self._caller_ids = caller_ids
        self._metrics = metrics
        self._feed = feed
        self._uris = dict(operator_uris)
        self._ring_timeout_s = ring_timeout_s
        self._clock = clock
        self._monotonic = monotonic
        self._incident_prompt = incident_prompt
        self._node = node  # HA pair: recorded on each call's "offered" event (whose call it is)
        self._admits = admits  # HA pair: false on the standby or a fenced node
        self._calls: dict[str, ActiveCall] = {}
        self._inbox: asyncio.Queue[Callable[[], Any]] = asyncio.Queue()
        self._tickets: dict[str, int] = {}  # call id -> ticket id, once the writer has applied it
        self._handled = asyncio.Condition()
        # IVR deadlines in a heap (one entry per call), refreshed for the calls a job touched:
        # finding the next wake-up and the due calls never walks every active call.
        self._ivr_deadlines = Deadlines()
        self._ivr_touched: set[str] = set()
        self.sip_state = "off" if control is None else "starting"
        if control is not None:
            metrics.watch_sip_socket(self.sip_socket)

    def sip_socket(self) -> SocketHealth | None:
        """The SIP socket's real state (None without SIP or before it started)."""
        return None if self._control is None else self._control.socket_health()

    # -- running ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Handle SIP events, console requests and timers until cancelled."""
        pump = (asyncio.create_task(self._pump_sip_events(), name="sip-events")
                if self._control is not None else None)
        try:
            while True:
                deadline = self._next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - self._monotonic())
                try:
                    async with asyncio.timeout(timeout):
                        job = await self._inbox.get()
                except TimeoutError:
                    await self._guarded(self._on_timers)
                else:
                    await self._guarded(job)
                async with self._handled:
                    self._handled.notify_all()
        finally:
            if pump is not None:
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)

    @property
    def _sip(self) -> CallControl:
        if self._control is None:
            raise RuntimeError("no SIP front door: calls cannot exist")
        return self._control

    async def _guarded(self, job: Callable[[], Any]) -> None:
        """Run one job; a bug in handling one event must not stop every other call."""
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except CallNotFoundError as exc:  # the caller left while we acted: their CallEnded follows
            log.info("call_center.call_gone", call_id=exc.call_id)
        except Exception:
            log.exception("call_center.job_failed", job=getattr(job, "__qualname__", repr(job)))

    async def _pump_sip_events(self) -> None:
        async for event in self._sip.events():
            self._inbox.put_nowait(functools.partial(self._on_sip_event, event))

    def submit(self, job: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run ``job`` (sync or async) on the call-centre task; the future gets its result."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def wrapped() -> None:
            try:
                result = job()
                if asyncio.iscoroutine(result):
                    result = await result
                future.set_result(result)
            except Exception as exc:
                future.set_exception(exc)

        self._inbox.put_nowait(wrapped)
        return future

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, checking after every job (tests, shutdown)."""
        async with self._handled:
            await self._handled.wait_for(predicate)

    @property
    def active_calls(self) -> frozenset[str]:
        return frozenset(self._calls)

    @property
    def ticket_ids(self) -> Mapping[str, int]:
        """Call id -> ticket id, for the calls up now whose ticket is stored (screen pops)."""
        return MappingProxyType(self._tickets)

    def now(self) -> float:
        """The routing clock (monotonic seconds)."""
        return self._monotonic()

    def ticket_applied(self, event: CallRecordEvent, ticket_id: int) -> None:
        """Writer callback: remember each call's ticket; once the offer to an operator is in
        the database (so the ticket is theirs to open), tell their console it is ready.
        Only calls still up are remembered: the drain applies a call's last events after the
        call has ended, and remembering those would keep one entry per call for ever."""
        if event.call_id in self._calls:
            self._tickets[event.call_id] = ticket_id
        if event.kind == "operator_offered" and event.data.get("operator_id"):
            self._feed.to_operator(str(event.data["operator_id"]), {
                "type": "ticket_ready", "call_id": event.call_id, "ticket_id": ticket_id})

    def _next_deadline(self) -> float | None:
        for call_id in self._ivr_touched:
            call = self._calls.get(call_id)
            deadline = call.ivr.next_deadline() if call is not None else None
            if deadline is None:
                self._ivr_deadlines.cancel(("call", call_id))
            else:
                self._ivr_deadlines.schedule(("call", call_id), deadline)
        self._ivr_touched.clear()
        deadlines = [d for d in (self.router.next_deadline(), self._ivr_deadlines.next())
                     if d is not None]
        return min(deadlines, default=None)

    async def _on_timers(self) -> None:
        now = self._monotonic()
        while (owner := self._ivr_deadlines.pop_due(now)) is not None:
            call = self._calls.get(owner[1])
            if call is not None:
                self._ivr_touched.add(call.call_id)
                await self._ivr_decisions(call, call.ivr.handle_timer(now))
        await self.route_decisions(self.router.handle_timer(now))

    # -- SIP events ------------------------------------------------------------------------
    async def _on_sip_event(self, event: sip.CallEvent) -> None:
        call = self._calls.get(getattr(event, "call_id", ""))
        now = self._monotonic()
        if call is not None:
            self._ivr_touched.add(call.call_id)  # its IVR deadline may move: refreshed after
        match event:
            case sip.CallOffered():
                await self._offered(event)
            case sip.CallRefused():
                self._refused(event)
            case sip.DigitReceived() if (call and call.routed and not call.connected
                                         and event.digit == CALLBACK_KEY):
                await self.route_decisions(self.router.handle(
                    routing.CallbackAccepted(call.call_id), now))
            case sip.DigitReceived() if call is not None:
                await self._ivr_decisions(call, call.ivr.digit(event.digit, now))
            case sip.PlaybackFinished() if call is not None:
                if call.hang_up_after_playback:
                    await self._sip.hangup(call.call_id)
                elif call.routed and not call.connected:  # an announcement ended: back on hold
                    await self._sip.play(call.call_id, HOLD_PROMPT, loop=True)
                else:
                    heard_before = call.ivr.incident_heard
                    decisions = call.ivr.playback_finished(now)
                    if call.ivr.incident_heard and not heard_before:
                        await self._record(call, "incident_message", {})  # heard to the end
                    await self._ivr_decisions(call, decisions)
            case sip.OperatorConnected() if call is not None and call.leg_operator:
                await self.route_decisions(self.router.handle(
                    routing.OfferAnswered(call.call_id, call.leg_operator), now))
            case (sip.OperatorNoAnswer() | sip.OperatorFailed()) if call and call.leg_operator:
                operator_id, call.leg_operator = call.leg_operator, None
                reason = (routing.FailReason.NO_ANSWER if isinstance(event, sip.OperatorNoAnswer)
                          else _fail_reason(event.reason))
                await self._record(call, "operator_missed",
                                   {"operator_id": operator_id, "reason": str(reason)})
                await self.route_decisions(self.router.handle(
                    routing.OfferFailed(call.call_id, operator_id, reason), now))
                if call.next_operator and call.call_id in self._calls:
                    await self._ring(call, call.next_operator)
            case sip.CallTransferred() if call is not None:
                await self._transferred(call, event, now)
            case sip.CallEnded() if call is not None:
                await self._ended(call, event, now)
            case sip.RegistrationChanged():
                self.sip_state = str(event.state)
                self._metrics.sip_registered(event.state in (sip.RegistrationState.REGISTERED,
                                                             sip.RegistrationState.DIRECT))
                log.info("sip.registration", state=self.sip_state, detail=event.detail)
            case _:
                log.debug("call_center.event_ignored", kind=type(event).__name__)

    async def _offered(self, event: sip.CallOffered) -> None:
        if not self._admits():  # fenced or handing over since the SIP gate let it in: refused
            log.warning("call_center.call_refused_not_active", node=self._node)  # before answer
            await self._sip.hangup(event.call_id)
            return
        try:
            caller_tag = self._caller_ids.hash(event.caller)
        except NotAPhoneNumber:
            caller_tag = ""
        display = self._caller_ids.display(event.caller)
        call = ActiveCall(event.call_id, caller_tag, display,
                          ivr.Ivr(self._ivr_settings, incident_prompt=self._incident_prompt()))
        self._calls[event.call_id] = call
        self._ivr_touched.add(call.call_id)
        structlog.contextvars.bind_contextvars(call_id=event.call_id)
        try:
            await self._record(call, "offered", {"caller_hash": caller_tag or None,
                                                 "caller_display": display,
                                                 **({"node": self._node} if self._node else {})})
            await self._sip.answer(call.call_id)
            now = self._monotonic()
            status = self._hours.status(self._clock())
            if status.open:
                await self._ivr_decisions(call, call.ivr.start(now))
                return
            call.after_hours = True
            await self._record(call, "after_hours", {"reason_code": status.reason_code})
            reopen = (status.next_open.astimezone(self._hours.calendar_zone)
                      if status.next_open else None)
            await self._ivr_decisions(call, call.ivr.start_closed(
                now, _closed_reason(status.reason_code, self._clock(), self._hours), reopen))
        finally:
            structlog.contextvars.unbind_contextvars("call_id")

    def _refused(self, event: sip.CallRefused) -> None:
        """An INVITE refused with 503 (flood, capacity, saturation, no RTP port) never became a
        call, but it gets a record: offered, then ended with the reason (outcome "refused").
        Its key carries the INVITE's branch: a retry with the same Call-ID is a new record."""
        try:
            caller_tag = self._caller_ids.hash(event.caller)
        except NotAPhoneNumber:
            caller_tag = ""
        record = ActiveCall(f"{event.call_id}/refused/{event.branch}", caller_tag,
                            self._caller_ids.display(event.caller), ivr.Ivr(self._ivr_settings))
        self._submit(record, "offered", {"caller_hash": caller_tag or None,
                                         "caller_display": record.caller_display,
                                         "sip_call_id": event.call_id})
        self._submit(record, "ended", {"reason": "refused", "refusal": event.reason,
                                       "hung_up_by": "system"})
        self._metrics.call_unrouted("refused")

    async def _ended(self, call: ActiveCall, event: sip.CallEnded, now: float) -> None:
        # The "ended" record and forgetting the call happen whatever routing or the IVR says.
        try:
            if call.routed:
                routing_event: routing.Event = (routing.CallFinished(call.call_id)
                                                if call.connected
                                                else routing.CallerHungUp(call.call_id))
                await self.route_decisions(self.router.handle(routing_event, now))
            else:
                if call.ivr.state is not ivr.IvrState.IDLE:  # IDLE: gone before we answered
                    call.ivr.caller_hung_up(now)
                self._metrics.call_unrouted("after_hours" if call.after_hours else "menu_hangup")
        finally:
            await self._record(call, "ended", {"reason": str(event.reason),
                                               "hung_up_by": str(event.hung_up_by)})
            del self._calls[call.call_id]
            self._tickets.pop(call.call_id, None)
        log.info("call.ended", call_id=call.call_id, service=call.service, operator=call.operator_id,
                 connected=call.connected, hung_up_by=str(event.hung_up_by))

    async def _transferred(self, call: ActiveCall, event: sip.CallTransferred, now: float) -> None:
        """The operator's phone transferred the caller (blind REFER) to another operator's phone
        or to a service queue (``sip:queue-<service>@...``); the caller hears the hold tone.

        Routing follows the hand-over (``CallHandedOver``): the first operator goes to wrap-up
        and the target is rung, or the call waits in the queue for the next skilled operator.
        A target routing cannot take (busy, offline, not an operator) sends the call back to
        its own service's queue. The timeline records the transfer either way."""
        user = uri_user(event.target)
        service = user[len(QUEUE_PREFIX):] if user.startswith(QUEUE_PREFIX) else None
        target = uri_key(event.target)
        operator_id = next((op for op, uri in self._uris.items() if uri_key(uri) == target), None)
        await self._record(call, "transferred", {"from_operator": call.operator_id,
                                                 "to_operator": operator_id,
                                                 "to_service": service or call.service})
        log.info("call.transferred", call_id=call.call_id, from_operator=call.operator_id,
                 to_operator=operator_id, to_service=service or call.service)
        decisions: list[routing.Decision] = []
        if call.connected:
            decisions = self.router.handle(
                routing.CallHandedOver(call.call_id, operator_id, service), now)
            if _rejected(decisions) and (operator_id or service):
                decisions = self.router.handle(routing.CallHandedOver(call.call_id), now)
        if not decisions or _rejected(decisions):
            await self._sip.hangup(call.call_id)  # nobody to take it: never leave a caller hanging
            return
        call.connected, call.leg_operator = False, None  # the transferring leg has ended
        call.extra["handed_over"] = True
        await self.route_decisions(decisions)

    # -- IVR decisions ---------------------------------------------------------------------
    async def _ivr_decisions(self, call: ActiveCall, decisions: list[ivr.IvrDecision]) -> None:
        for decision in decisions:
            match decision:
                case ivr.PlayPrompt(prompts=prompts):
                    await self._sip.play(call.call_id, prompts)
                case ivr.StopPlayback():
                    await self._sip.stop_playback(call.call_id)
                case ivr.SelectService(service_id=service, digit=digit, fallback=fallback):
                    call.service, call.routed = service, True
                    await self._record(call, "service_selected",
                                       {"service": service, "digit": digit, "fallback": fallback})
                    self._metrics.call_offered(service)
                    await self.route_decisions(self.router.handle(
                        routing.CallArrived(call.call_id, service, call.caller_tag),
                        self._monotonic()))
                case ivr.HangUp():
                    await self._sip.hangup(call.call_id)
                case ivr.CallerLeft():
                    pass  # the "ended" record carries the outcome

    # -- routing decisions -----------------------------------------------------------------
    async def route_decisions(self, decisions: list[routing.Decision]) -> None:
        for decision in decisions:
            await self._route_decision(decision)
        if any(not isinstance(d, routing.Announce) for d in decisions):  # announcements change
            self._publish_floor()  # nothing on the floor: no wallboard re-read for them

    async def _route_decision(self, decision: routing.Decision) -> None:
        call = self._calls.get(getattr(decision, "call_id", ""))
        match decision:
            case routing.Enqueue(service=service, position=position) if call:
                await self._record(call, "queued" if decision.reason == "arrived" else "moved",
                                   {"service": service, "position": position})
                call.service = service
                await self._sip.play(call.call_id, HOLD_PROMPT, loop=True)
            case routing.Offer(operator_id=operator_id) if call:
                call.operator_id = operator_id
                await self._record(call, "operator_offered", {"operator_id": operator_id})
                self._screen_pop(call, decision)
                if call.leg_operator is None:
                    await self._ring(call, operator_id)
                else:  # routing gave up on a leg SIP still rings: dial once that leg ends
                    call.next_operator = operator_id
            case routing.Connect(operator_id=operator_id, waited_s=waited) if call:
                call.operator_id, call.connected = operator_id, True
                call.connected_at = self._monotonic()
                await self._record(call, "connected", {"operator_id": operator_id})
                if not call.extra.get("handed_over"):  # answered once, however often moved
                    self._metrics.call_answered(decision.service, waited)
            case routing.Overflow(level=level) if call:
                await self._record(call, "overflowed", {"level": level})
            case routing.Announce(position=position) if call and not call.connected:
                # Recorded prompts (clear Japanese speech); hold music resumes when they end.
                where = f"queue_position_{position}" if position <= 10 else "queue_ahead"
                await self._sip.play(call.call_id, (where, "queue_wait"))
            case routing.OfferCallback() if call:
                # Only an internal extension is kept in the clear, so only those callers can be
                # promised a call back; others are asked to call again later.
                reachable = self._caller_ids.is_internal(call.caller_display)
                await self._record(call, "callback_requested",
                                   {"reason": decision.reason, "reachable": reachable})
                call.hang_up_after_playback = True
                await self._sip.play(call.call_id,
                                     CALLBACK_PROMPT if reachable else UNAVAILABLE_PROMPT)
            case routing.CallClosed(outcome=outcome, service=service):
                self._metrics.call_ended(service, outcome)
                if call is not None and call.connected_at is not None:
                    self._metrics.call_finished(service, self._monotonic() - call.connected_at)
            case routing.OperatorStateChanged() | routing.OperatorStatePending() | \
                    routing.WrapUpScheduled():
                self._feed.to_floor({"type": "operator", **_plain(decision)})
                self._feed.to_operator(decision.operator_id, {"type": "my_state", **_plain(decision)})
            case routing.NotifySupervisor():
                self._feed.to_floor({"type": "alert", **_plain(decision)})
                log.warning("routing.supervisor_alert", kind=decision.kind,
                            operator=decision.operator_id, detail=decision.detail)
            case routing.Rejected():
                log.warning("routing.rejected", error_id=decision.error_id,
                            kind=type(decision.event).__name__, detail=decision.detail)
            case _:
                log.debug("call_center.decision", decision=type(decision).__name__)

    async def roster_changed(self, event: routing.OperatorConfigured | routing.OperatorRemoved,
                             uri: str | None) -> list[routing.Decision]:
        """An operator added, re-skilled or removed in the admin view (``cti.floor.roster``):
        routing and the phone to ring follow at once, no restart."""
        decisions = self.router.handle(event, self._monotonic())
        if not any(isinstance(d, routing.Rejected) for d in decisions):
            if uri is None:
                self._uris.pop(event.operator_id, None)
            else:
                self._uris[event.operator_id] = uri
        await self.route_decisions(decisions)
        self._publish_floor()
        return decisions

    async def _ring(self, call: ActiveCall, operator_id: str) -> None:
        call.leg_operator, call.next_operator = operator_id, None
        await self._sip.connect_to_operator(call.call_id, self._uris[operator_id],
                                            self._ring_timeout_s)

    def screen_pop_for(self, operator_id: str) -> dict[str, Any] | None:
        """The screen pop of the call ringing or connected to ``operator_id`` now (a console
        that reloads or logs in late shows it again), with the ticket id once known."""
        view = next((v for v in self.router.operators() if v.operator_id == operator_id), None)
        call = self._calls.get(view.call_id) if view is not None and view.call_id else None
        if call is None or call.pop is None or call.operator_id != operator_id:
            return None
        return {**call.pop, "ticket_id": self._tickets.get(call.call_id),
                "connected": call.connected}

    def _screen_pop(self, call: ActiveCall, offer: routing.Offer) -> None:
        call.pop = {
            "type": "screen_pop", "call_id": call.call_id, "service": offer.service,
            "caller": call.caller_display, "waited_s": round(offer.waited_s, 1),
            "ticket_id": self._tickets.get(call.call_id), "level": offer.level,
        }
        delivered = self._feed.to_operator(offer.operator_id, call.pop)
        log.info("console.screen_pop", call_id=call.call_id, operator=offer.operator_id,
                 consoles=delivered)

    def _publish_floor(self) -> None:
        now = self._monotonic()
        queues = self.router.queue_counts(now)
        for queue in queues:
            self._metrics.queue_changed(queue.service, queue.waiting, queue.longest_wait_s)
        self._metrics.operators_changed(*self.router.operator_counts())
        self._feed.to_floor({"type": "queues", "queues": [
            {"service": q.service, "waiting": q.waiting,
             "longest_wait_s": round(q.longest_wait_s, 1)} for q in queues]})

    async def _record(self, call: ActiveCall, kind: str, data: dict[str, Any]) -> None:
        self._submit(call, kind, data)

    def _submit(self, call: ActiveCall, kind: str, data: dict[str, Any]) -> None:
        """Queue the event for the journal in order, without waiting for its fsync: the writer
        commits what is queued in groups (one fsync for many events), so the call path never
        waits on the disk; a failure is counted and logged when the write completes."""
        call.seq += 1
        event = CallRecordEvent(call.call_id, call.seq, self._clock(), kind, data)
        try:
            written = self._writer.submit(event)
        except (JournalFull, OSError) as exc:
            self._journal_failed(call.call_id, kind, exc)
            return
        written.add_done_callback(functools.partial(self._journalled, call.call_id, kind))

    def _journalled(self, call_id: str, kind: str, written: asyncio.Future[None]) -> None:
        if not written.cancelled() and (exc := written.exception()) is not None:
            self._journal_failed(call_id, kind, exc)

    def _journal_failed(self, call_id: str, kind: str, exc: BaseException) -> None:
        self._metrics.ticket_write_failed()
        log.error("tickets.journal_write_failed", call_id=call_id, kind=kind, error=str(exc))


def _rejected(decisions: list[routing.Decision]) -> bool:
    return any(isinstance(d, routing.Rejected) for d in decisions)


def _plain(decision: object) -> dict[str, Any]:
    return {name: getattr(decision, name) for name in decision.__slots__  # type: ignore[attr-defined]
            if isinstance(getattr(decision, name), str | int | float | bool | None)}


def _fail_reason(reason: sip.OperatorFailure) -> routing.FailReason:
    mapping = {"busy": routing.FailReason.BUSY, "not_found": routing.FailReason.UNREACHABLE,
               "unreachable": routing.FailReason.UNREACHABLE}
    return mapping.get(str(reason), routing.FailReason.REJECTED)


def _closed_reason(code: str | None, now: Any, hours: HelpdeskHours) -> ivr.ClosedReason:
    if code in _CLOSED_REASONS:
        return _CLOSED_REASONS[code]
    local = now.astimezone(hours.calendar_zone)
    opens = hours.calendar.opening(local.date())[0]
    return ivr.ClosedReason.BEFORE_HOURS if local < opens else ivr.ClosedReason.AFTER_HOURS
