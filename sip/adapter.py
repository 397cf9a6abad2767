"""SipFrontDoor: the CallControl implementation that speaks SIP and RTP.

Everything runs on the asyncio loop: the SIP socket and RTP sockets are asyncio datagram
endpoints and one MediaClock paces all audio, so no pyVoIP thread exists and nothing has to
cross threads (the only blocking work, speech synthesis, goes out via ``asyncio.to_thread``
in ``audio.PromptLibrary.prepare``). See ``pyvoip.py`` for what is still taken from pyVoIP.

Defect fixes in this module (numbers from shared/notes/pyvoip-1.6.8.md); requests from
callers are handled in inbound.py (defects 1, 5, 8 there):
- 1: ``answer()`` sends 200 OK immediately (pyVoIP waits a 1 s Timer first).
- 4: a call's sockets, timers and objects are released in ``_end`` (one place).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog

from cti.sip import message as sipmsg
from cti.sip.audio import Player, PromptLibrary
from cti.sip.callstate import CallState, Trigger, next_state
from cti.sip.control import Prompt, prompt_names
from cti.sip.dialog import Dialog
from cti.sip.errors import CallNotFoundError
from cti.sip.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    EndReason,
    HungUpBy,
    PlaybackFinished,
    RegistrationChanged,
    RegistrationState,
)
from cti.sip.flood import Drops, FloodGuard, Lateness, Refusal
from cti.sip.inbound import Call
from cti.sip.media import MediaLeg, make_media
from cti.sip.media.rtp import core_name
from cti.sip.operator import OperatorLeg
from cti.sip.prack import ReliableProvisionals
from cti.sip.session import Negotiated
from cti.sip.session_refresh import SessionRefresh
from cti.sip.settings import SipSettings
from cti.sip.stream import EventStream
from cti.sip.transaction import Timers
from cti.sip.transfer import Transfers
from cti.sip.transport import SipTransport, SocketHealth, open_transport, rebind
from cti.sip.uas import ALLOW, SUPPORTED_HEADER
from cti.sip.wire import family_of, host_for_uri

log = structlog.get_logger("cti.sip")
LAG_PROBE_S = 0.05  # how often the event loop's lateness is measured



def _utcnow() -> datetime:
    return datetime.now(UTC)


class SipFrontDoor(Transfers, SessionRefresh, ReliableProvisionals):
    """CallControl over SIP/RTP (direct mode; registered mode with ``settings.registrar``)."""

    def __init__(
        self,
        settings: SipSettings,
        library: PromptLibrary,
        *,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.library = library
        self._clock_now = now
        self._stream = EventStream()
        self.calls: dict[str, Call] = {}
        self.legs: dict[str, OperatorLeg] = {}  # by the operator leg's SIP Call-ID
        self.transport: SipTransport | None = None
        self.rtp = make_media(settings.media_workers, settings.log_format, settings.media_nice)
        self.rtp.set_lost(self._media_lost)
        self.tasks: set[asyncio.Task[None]] = set()
        self.registration_state = RegistrationState.DIRECT
        self.registration: object | None = None
        self.retransmitted_2xx = 0  # operator 2xx seen again after our ACK (defect 3 canary)
        self.pracks = 0  # PRACKs that acknowledged a reliable provisional of ours
        self.timers = Timers(settings.t1_s, settings.t2_s)
        self._reopening: asyncio.Task[None] | None = None
        self.flood = FloodGuard(settings.flood)
        # Back-pressure: INVITEs accepted and not answered yet (loop time they came in, oldest
        # first), how late the event loop wakes up, and SIP datagrams the kernel dropped; any
        # of them running late means saturated (``running_late_s``).
        self.unanswered: dict[str, float] = {}
        self.lateness = Lateness()
        self.drops = Drops()  # by the kernel at the SIP socket
        self._flood_logged: dict[str, float] = {}
        self._pending_2xx: dict[tuple[str, int], asyncio.TimerHandle] = {}
        self._offers_out: dict[tuple[str, int], MediaLeg] = {}
        self._stopping = False
        self.admits: Callable[[], bool] = lambda: True  # HA pair (cti.ha.node.Node.admits)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        self._stream.reopen()
        self._stopping = False
        await self.rtp.start()
        self.transport = await open_transport(
            s.bind_host, s.bind_port, self._on_request, self._on_response,
            timers=self.timers, on_lost=self._socket_lost, also=s.also_bind,
        )
        log.info("sip.started", bind=self.transport.health().local, media_core=core_name())
        self.spawn(self._watch_media())
        self.spawn(self._watch_lag())
        if s.registrar is None:
            self._emit(RegistrationChanged(RegistrationState.DIRECT, self._now()))
        else:
            from cti.sip.registration import Registration  # registered mode only

            reg = Registration(self, s.registrar)
            self.registration = reg
            self.spawn(reg.run())

    async def stop(self) -> None:
        self._stopping = True
        for call in list(self.calls.values()):
            await self.hangup(call.call_id, reason=EndReason.SHUTDOWN)
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        await self.rtp.stop()
        self._stream.close()
        log.info("sip.stopped")

    def socket_health(self) -> SocketHealth | None:
        """The SIP socket's real state (None before ``start``)."""
        if self.transport is None:
            return None
        return replace(self.transport.health(),
                       invites_refused_rate=self.flood.refused[Refusal.RATE],
                       invites_refused_capacity=self.flood.refused[Refusal.CAPACITY],
                       invites_refused_saturated=self.flood.refused[Refusal.SATURATED],
                       invites_refused_rtp_ports=self.flood.refused[Refusal.RTP_PORTS],
                       refusals_unrecorded=self.flood.unrecorded, media=self.rtp.health(),
                       media_late_ticks=self.rtp.late_ticks)

    @property
    def reopening(self) -> asyncio.Task[None] | None:
        """The task rebinding a dead SIP socket (None if it never died)."""
        return self._reopening

    def _socket_lost(self) -> None:
        if not self._stopping and (self._reopening is None or self._reopening.done()):
            self._reopening = self.spawn(self._reopen())

    async def _reopen(self) -> None:
        """The SIP socket died (it never should): bind it again on the same address."""
        delay = 0.05
        while self.transport is not None and (
                missing := [a for f, a in self.transport.addresses.items()
                            if f not in self.transport.sockets]):
            host, port = missing[0]
            try:
                await rebind(self.transport, host, port)
            except OSError as exc:
                log.error("sip.socket_reopen_failed", bind=f"{host}:{port}", error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            log.warning("sip.socket_reopened", bind=f"{host}:{port}",
                        reopened=self.transport.reopened)

    def events(self) -> AsyncIterator[CallEvent]:
        return self._stream.__aiter__()

    @property
    def local(self) -> tuple[str, int]:
        assert self.transport is not None, "start() first"
        return self.transport.local

    @property
    def contact(self) -> str:
        return self.contact_for(None)

    # Dual stack: what we put in Via, Contact and SDP, and where RTP binds, follows the IP family
    # of the peer (None or a host name: the primary address).
    def local_for(self, peer: str | None) -> tuple[str, int]:
        """Our sent-by (Via host, port): the socket of the peer's IP family."""
        assert self.transport is not None, "start() first"
        return self.transport.addresses.get(family_of(peer or ""), self.transport.local)

    def _secondary(self, peer: str | None) -> bool:
        also = self.settings.also_bind
        return also is not None and family_of(peer or "") == family_of(also[0])

    def host_for(self, peer: str | None) -> str:
        """The address in Contact and SDP for this peer."""
        also = self.settings.also_bind
        return also[0] if also is not None and self._secondary(peer) else \
            self.settings.contact_host

    def media_host_for(self, peer: str | None) -> str:
        """Where RTP sockets for this peer bind."""
        also = self.settings.also_bind
        return also[0] if also is not None and self._secondary(peer) else self.settings.bind_host

    def contact_for(self, peer: str | None) -> str:
        return (f"sip:{self.settings.user}@{host_for_uri(self.host_for(peer))}"
                f":{self.local_for(peer)[1]}")

    def _local_contact(self, peer: str | None = None) -> tuple[tuple[str, int], str]:
        return self.local_for(peer), self.contact_for(peer)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sip.task_failed", error=repr(task.exception()))

    def _emit(self, event: CallEvent) -> None:
        self._stream.put(event)

    # -- commands ------------------------------------------------------------------------------
    async def answer(self, call_id: str) -> None:
        call = self._call(call_id)
        call.state = next_state(call_id, call.state, Trigger.ANSWER)
        await call.media_ready.wait()
        if call_id not in self.calls or call.media is None:
            raise CallNotFoundError(call_id)
        agreed = Negotiated(call.offer.address, call.offer.port, call.media.codec,
                            call.offer.event_pt, call.streams[call.chosen].direction)
        call.media.remote_direction = agreed.remote_direction
        call.media.send_enabled = agreed.remote_direction in ("sendrecv", "recvonly")
        sdp = call.sdp.answer(call.streams, call.chosen, call.media.local_port, agreed)
        ok = sipmsg.build_response(
            call.invite, 200, to_tag=sipmsg.header_tag(call.dialog.local_uri),
            extra=[*self._common_headers(sipmsg.peer_host(call.invite)),
                   *(call.timer.headers() if call.timer else []),
                   ("Content-Type", "application/sdp")],
            body=sdp,
        )
        assert self.transport is not None
        self.transport.respond(call.invite, ok)
        self.stop_reliable(call)
        self.session_refreshed(call, call.timer)
        self._retransmit_ok(call, ok, self.timers.t1, 0.0)
        call.answered_at = asyncio.get_running_loop().time()
        self.unanswered.pop(call_id, None)
        self.rtp.add(call.media)
        log.info("sip.answered", call_id=call_id, codec=call.media.codec.name)
        self._emit(CallAnswered(call_id, self._now()))

    async def play(self, call_id: str, prompt: Prompt, *, loop: bool = False) -> None:
        call = self._call(call_id)
        names = prompt_names(prompt)
        next_state(call_id, call.state, Trigger.PLAY)  # raises when not allowed
        playable = await self.library.prepare(names)
        if call_id not in self.calls or call.media is None:
            raise CallNotFoundError(call_id)
        codec = call.media.codec
        audio = b"".join(self.library.encoded(n, codec) for n in playable)
        call.play_token += 1
        token = call.play_token
        if not audio and not loop:  # nothing could be spoken: the flow must still go on
            call.media.player = None
            self._emit(PlaybackFinished(call_id, "+".join(names), self._now()))
            return

        def finished(name: str) -> None:
            if call_id in self.calls and call.play_token == token:
                self._emit(PlaybackFinished(call_id, name, self._now()))

        call.media.player = Player(audio, "+".join(names), loop=loop, on_finished=finished)

    async def stop_playback(self, call_id: str) -> None:
        call = self._call(call_id)
        call.play_token += 1
        if call.media is not None:
            call.media.player = None

    async def connect_to_operator(
        self, call_id: str, operator_uri: str, ring_timeout_s: float
    ) -> None:
        call = self._call(call_id)
        call.state = next_state(call_id, call.state, Trigger.CONNECT)
        leg = OperatorLeg(self, call, operator_uri, ring_timeout_s)
        call.operator = leg
        self.legs[leg.sip_call_id] = leg
        self.spawn(leg.run())

    async def hangup(self, call_id: str, *, reason: EndReason = EndReason.HUNG_UP) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        if call.state is CallState.OFFERED:
            assert self.transport is not None
            status = 503 if reason is EndReason.SHUTDOWN else 480
            self.transport.respond(call.invite, sipmsg.build_response(
                call.invite, status, to_tag=sipmsg.header_tag(call.dialog.local_uri)))
        else:
            self.send_bye(call.dialog)
        self._end(call, reason, HungUpBy.SYSTEM)

    # -- helpers used by OperatorLeg and Registration ------------------------------------------
    def send_bye(self, dialog: Dialog) -> None:
        assert self.transport is not None
        peer = dialog.next_hop()[0]
        data, branch = dialog.request("BYE", self.local_for(peer), self.contact_for(peer), extra=[
            ("Allow", ALLOW), ("User-Agent", self.settings.user_agent)])  # Contact: dialog adds it
        tx = self.transport.start_client("BYE", data, branch, dialog.next_hop())
        tx.final.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _common_headers(self, peer: str | None = None) -> list[tuple[str, str]]:
        """Contact, Allow and Supported (what we really do) on every response we build."""
        return [("Contact", f"<{self.contact_for(peer)}>"), ("Allow", ALLOW),
                ("Supported", SUPPORTED_HEADER), ("User-Agent", self.settings.user_agent)]

    def end_call(self, call: Call, reason: EndReason, by: HungUpBy) -> None:
        self._end(call, reason, by)

    def emit(self, event: CallEvent) -> None:
        self._emit(event)

    def now(self) -> datetime:
        return self._clock_now()

    def _now(self) -> datetime:
        return self._clock_now()

    # -- internals -----------------------------------------------------------------------------
    @property
    def running_late_s(self) -> float:
        """How late the service runs now (the flood guard's saturation input), the most of: the
        oldest INVITE still waiting for its 200, the event loop's lasting lateness, and T1 while
        the kernel has dropped SIP datagrams within the last second."""
        now = asyncio.get_running_loop().time()
        oldest = next(iter(self.unanswered.values()), None)
        waited = 0.0 if oldest is None else now - oldest
        # a request the kernel dropped is answered after its retransmission: T1 late at least
        dropped = self.timers.t1 if self.drops.recent(now) else 0.0
        return max(waited, self.lateness.sustained_s, dropped)

    async def _watch_lag(self) -> None:
        """Every ``LAG_PROBE_S``: how late the event loop woke up, and whether the kernel
        dropped SIP datagrams (the receive queue full) since the last probe."""
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_PROBE_S)
            now = loop.time()
            self.lateness.observe(now - start - LAG_PROBE_S)
            if self.transport is not None:
                was = self.drops.recent(now)
                new = self.drops.observe(self.transport.read_drops(), now)
                if new and not was:
                    log.warning("sip.receive_queue_overflow", dropped=new,
                                dropped_total=self.drops.total)

    async def _watch_media(self) -> None:
        """Hang up answered calls whose caller sends no RTP (vanished without a BYE)."""
        limit = self.settings.media_timeout_s
        while True:
            await asyncio.sleep(min(5.0, limit / 4))
            now = time.monotonic()  # last_rx's clock; answered_at's (loop time) is the same one
            for call in list(self.calls.values()):
                media = call.media
                if media is None or call.answered_at is None:
                    continue
                last = media.last_rx if media.last_rx is not None else call.answered_at
                if now - last > limit:
                    log.warning("sip.media_timeout", call_id=call.call_id, silent_s=now - last)
                    await self.hangup(call.call_id, reason=EndReason.MEDIA_TIMEOUT)

    def _media_lost(self, legs: list[MediaLeg]) -> None:
        """A media worker died: the calls whose audio it carried end now (their tickets say
        ``error``); new calls go to the restarted worker."""
        lost = {id(leg) for leg in legs}
        for call in list(self.calls.values()):
            operator = call.operator.media if call.operator is not None else None
            if id(call.media) in lost or (operator is not None and id(operator) in lost):
                log.error("sip.media_lost", call_id=call.call_id)
                self.spawn(self.hangup(call.call_id, reason=EndReason.ERROR))

    def _live(self, call: Call) -> bool:
        """The call is still the active call of its Call-ID (a function: no type narrowing)."""
        return self.calls.get(call.call_id) is call

    def _call(self, call_id: str) -> Call:
        try:
            return self.calls[call_id]
        except KeyError:
            raise CallNotFoundError(call_id) from None

    def _retransmit_ok(self, call: Call, ok: bytes, interval: float, elapsed: float) -> None:
        """Timer G: resend the 2xx until the ACK arrives; no ACK in 64*T1 ends the call."""
        if call.acked or not self._live(call):
            return
        if elapsed >= 64 * self.timers.t1:
            log.warning("sip.no_ack", call_id=call.call_id)
            self.send_bye(call.dialog)
            self._end(call, EndReason.NO_ACK, HungUpBy.SYSTEM)
            return
        if elapsed > 0 and self.transport is not None:
            self.transport.send(ok, sipmsg.response_address(call.invite))
        loop = asyncio.get_running_loop()
        call.ok_timer = loop.call_later(interval, self._retransmit_ok, call, ok,
                                        min(interval * 2, self.timers.t2), elapsed + interval)

    def _end(self, call: Call, reason: EndReason, by: HungUpBy, *, emit: bool = True) -> None:
        """Defect 4: the one place a call's timers, sockets and objects are released."""
        if not self._live(call):
            return
        del self.calls[call.call_id]
        self.unanswered.pop(call.call_id, None)
        call.state = next_state(call.call_id, call.state, Trigger.END)
        for timer in (call.ok_timer, call.ring_timer):
            if timer is not None:
                timer.cancel()
        call.ok_timer = call.ring_timer = None
        self.stop_reliable(call)
        self.stop_session_timer(call)
        self._forget_dialog(call.call_id)
        if call.operator is not None:
            self._forget_dialog(call.operator.sip_call_id)
            call.operator.caller_gone()
            call.operator = None
        if call.media is not None:
            self.rtp.remove(call.media)
            call.media.close()
        call.media_ready.set()
        log.info("sip.call_ended", call_id=call.call_id, reason=reason.value, by=by.value)
        if emit:
            self._emit(CallEnded(call.call_id, reason, by, self._now()))
