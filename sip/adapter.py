"""SipFrontDoor: the CallControl implementation that speaks SIP and RTP.

Everything runs on the asyncio loop: the SIP socket and RTP sockets are asyncio datagram
endpoints and one MediaClock paces all audio, so no pyVoIP thread exists and nothing has to
cross threads (the only blocking work, speech synthesis, goes out via ``asyncio.to_thread``
in ``audio.PromptLibrary.prepare``). See ``pyvoip.py`` for what is still taken from pyVoIP.

Defect fixes in this module (numbers from shared/notes/pyvoip-1.6.8.md):
- 1: the INVITE is answered with 100 Trying at once and CallOffered is emitted as soon as the
  RTP socket is bound; ``answer()`` sends 200 OK immediately (pyVoIP waits a 1 s Timer).
- 4: a call's sockets, timers and objects are released in ``_end`` (one place).
- 5: CANCEL before answer -> 200 for the CANCEL and 487 for the INVITE, call ended.
- 8: OPTIONS -> 200; known but unsupported methods -> 405 with Allow; unknown -> 501.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
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
    CallOffered,
    DigitReceived,
    DigitSource,
    EndReason,
    HungUpBy,
    PlaybackFinished,
    RegistrationChanged,
    RegistrationState,
)
from cti.sip.message import SipMessage
from cti.sip.operator import OperatorLeg
from cti.sip.rtp import MediaClock, RtpSession, open_session
from cti.sip.sdp import MediaOffer, NoCommonCodecError, SdpError, build_sdp, parse_offer
from cti.sip.settings import SipSettings
from cti.sip.stream import EventStream
from cti.sip.transport import T1, T2, SipTransport, open_transport

log = structlog.get_logger("cti.sip")

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
KNOWN_UNSUPPORTED = frozenset(
    {"REGISTER", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "UPDATE", "PRACK", "PUBLISH"}
)
DTMF_INFO_KEYS = "0123456789*#ABCD"
RINGING_DELAY_S = 0.15


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True, eq=False)
class Call:
    call_id: str
    invite: SipMessage
    dialog: Dialog
    offer: MediaOffer
    state: CallState = CallState.OFFERED
    media: RtpSession | None = None
    media_ready: asyncio.Event = field(default_factory=asyncio.Event)
    ok_timer: asyncio.TimerHandle | None = None
    acked: bool = False
    operator: OperatorLeg | None = None
    play_token: int = 0
    answered_at: float | None = None  # loop time
    ring_timer: asyncio.TimerHandle | None = None
    digit_times: deque[float] = field(default_factory=lambda: deque(maxlen=64))


class SipFrontDoor:
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
        self._now = now
        self._stream = EventStream()
        self.calls: dict[str, Call] = {}
        self.legs: dict[str, OperatorLeg] = {}  # by the operator leg's SIP Call-ID
        self.transport: SipTransport | None = None
        self.clock = MediaClock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.registration_state = RegistrationState.DIRECT
        self.registration: object | None = None
        self.retransmitted_2xx = 0  # operator 2xx seen again after our ACK (defect 3 canary)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        self._stream.reopen()
        self.transport = await open_transport(
            s.bind_host, s.bind_port, self._on_request, self._on_response
        )
        log.info("sip.started", bind=f"{self.local[0]}:{self.local[1]}")
        self.spawn(self._watch_media())
        if s.registrar is None:
            self._emit(RegistrationChanged(RegistrationState.DIRECT, self._now()))
        else:
            from cti.sip.registration import Registration  # registered mode only

            reg = Registration(self, s.registrar)
            self.registration = reg
            self.spawn(reg.run())

    async def stop(self) -> None:
        for call in list(self.calls.values()):
            await self.hangup(call.call_id, reason=EndReason.SHUTDOWN)
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self._stream.close()
        log.info("sip.stopped")

    def events(self) -> AsyncIterator[CallEvent]:
        return self._stream.__aiter__()

    @property
    def local(self) -> tuple[str, int]:
        assert self.transport is not None, "start() first"
        return self.transport.local

    @property
    def contact(self) -> str:
        return f"sip:{self.settings.user}@{self.settings.contact_host}:{self.local[1]}"

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
        sdp = build_sdp(self.settings.contact_host, call.media.local_port, (call.media.codec,),
                        call.offer.event_pt)
        ok = sipmsg.build_response(
            call.invite, 200, to_tag=sipmsg.header_tag(call.dialog.local_uri),
            extra=[*self._common_headers(), ("Content-Type", "application/sdp")], body=sdp,
        )
        assert self.transport is not None
        self.transport.respond(call.invite, ok)
        self._retransmit_ok(call, ok, T1, 0.0)
        call.answered_at = asyncio.get_running_loop().time()
        self.clock.add(call.media)
        log.info("sip.answered", call_id=call_id, codec=call.media.codec.name)
        self._emit(CallAnswered(call_id, self._now()))

    async def play(self, call_id: str, prompt: Prompt, *, loop: bool = False) -> None:
        call = self._call(call_id)
        names = prompt_names(prompt)
        next_state(call_id, call.state, Trigger.PLAY)  # raises when not allowed
        await self.library.prepare(names)
        if call_id not in self.calls or call.media is None:
            raise CallNotFoundError(call_id)
        codec = call.media.codec
        audio = b"".join(self.library.encoded(n, codec) for n in names)
        call.play_token += 1
        token = call.play_token

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
        data, branch = dialog.request("BYE", self.local, self.contact,
                                      extra=self._common_headers())
        tx = self.transport.start_client("BYE", data, branch, dialog.next_hop())
        tx.final.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _common_headers(self) -> list[tuple[str, str]]:
        return [("Contact", f"<{self.contact}>"), ("Allow", ALLOW),
                ("User-Agent", self.settings.user_agent)]

    def end_call(self, call: Call, reason: EndReason, by: HungUpBy) -> None:
        self._end(call, reason, by)

    def emit(self, event: CallEvent) -> None:
        self._emit(event)

    def now(self) -> datetime:
        return self._now()

    # -- inbound SIP ---------------------------------------------------------------------------
    def _on_request(self, msg: SipMessage) -> None:
        match msg.method:
            case "INVITE":
                self._invite(msg)
            case "ACK":
                call = self.calls.get(msg.call_id)
                if call is not None and not call.acked and msg.cseq[0] == call.invite.cseq[0]:
                    call.acked = True
                    if call.ok_timer is not None:
                        call.ok_timer.cancel()
                        call.ok_timer = None
            case "CANCEL":
                self._cancel(msg)
            case "BYE":
                self._bye(msg)
            case "INFO":
                self._info(msg)
            case "OPTIONS":
                self._reply(msg, 200, extra=[("Accept", "application/sdp"),
                                             ("Supported", ""), *self._common_headers()])
            case method if method in KNOWN_UNSUPPORTED:
                log.info("sip.method_not_allowed", method=method, call_id=msg.call_id)
                self._reply(msg, 405, extra=[("Allow", ALLOW)])
            case method:
                log.info("sip.method_unknown", method=method, call_id=msg.call_id)
                self._reply(msg, 501, extra=[("Allow", ALLOW)])

    def _on_response(self, msg: SipMessage) -> None:
        leg = self.legs.get(msg.call_id)
        if leg is not None:
            leg.stray_response(msg)

    def _reply(self, msg: SipMessage, status: int, *, to_tag: str = "",
               extra: list[tuple[str, str]] | None = None, body: bytes = b"") -> None:
        assert self.transport is not None
        tag = to_tag or ("" if msg.to_tag else sipmsg.new_tag())
        self.transport.respond(msg, sipmsg.build_response(msg, status, to_tag=tag, extra=extra,
                                                          body=body))

    def _invite(self, msg: SipMessage) -> None:
        call = self.calls.get(msg.call_id)
        if msg.to_tag:
            if call is None or call.media is None:
                self._reply(msg, 481)
                return
            # re-INVITE (session refresh / hold): keep our media as it is
            sdp = build_sdp(self.settings.contact_host, call.media.local_port,
                            (call.media.codec,), call.offer.event_pt)
            extra = [*self._common_headers(), ("Content-Type", "application/sdp")]
            self._reply(msg, 200, extra=extra, body=sdp)
            return
        if call is not None:
            return  # same Call-ID, new branch: a forked copy; the first one wins
        source = msg.source[0] if msg.source else ""
        if self.settings.allow_from and source not in self.settings.allow_from:
            log.warning("sip.invite_refused", call_id=msg.call_id, source=source)
            self._reply(msg, 403)
            return
        if "sdp" not in msg.get("content-type").lower() or not msg.body:
            log.warning("sip.invite_without_sdp", call_id=msg.call_id)
            self._reply(msg, 488, extra=[("Warning", '399 cti "INVITE without SDP offer"')])
            return
        try:
            offer = parse_offer(msg.body)
        except NoCommonCodecError as exc:
            log.warning("sip.no_common_codec", call_id=msg.call_id, detail=str(exc))
            self._reply(msg, 488, extra=[("Warning", '305 cti "Incompatible media format"')])
            return
        except SdpError as exc:
            log.warning("sip.bad_sdp", call_id=msg.call_id, detail=str(exc))
            self._reply(msg, 400, extra=[("Warning", f'399 cti "{exc}"')])
            return
        assert self.transport is not None
        self.transport.respond(msg, sipmsg.build_response(msg, 100))
        call = Call(msg.call_id, msg, Dialog.as_uas(msg, sipmsg.new_tag()), offer)
        self.calls[call.call_id] = call
        self.spawn(self._prepare(call))

    async def _prepare(self, call: Call) -> None:
        offer = call.offer
        try:
            media = await open_session(
                self.settings.bind_host, self.settings.rtp_ports, offer.codecs[0], offer.event_pt,
                (offer.address, offer.port), lambda d: self._digit(call, d, DigitSource.RFC2833))
        except OSError as exc:
            log.error("sip.rtp_unavailable", call_id=call.call_id, error=str(exc))
            if self.calls.get(call.call_id) is call:
                self._reply(call.invite, 503, to_tag=sipmsg.header_tag(call.dialog.local_uri))
                self._end(call, EndReason.ERROR, HungUpBy.SYSTEM, emit=False)
            return
        if self.calls.get(call.call_id) is not call:  # cancelled while binding
            media.close()
            call.media_ready.set()
            return
        call.media = media
        call.media_ready.set()
        # 180 only when the coordinator does not answer at once: a 180 sent just before the
        # 200 can overtake it through a multi-process proxy, and strict callers then abort
        call.ring_timer = asyncio.get_running_loop().call_later(RINGING_DELAY_S, self._ringing, call)
        caller = sipmsg.uri_user(sipmsg.header_uri(call.invite.get("from")))
        display = call.invite.get("from").split("<", 1)[0].strip().strip('"')
        called = sipmsg.uri_user(call.invite.uri or "") or sipmsg.uri_user(
            sipmsg.header_uri(call.invite.get("to")))
        log.info("sip.offered", call_id=call.call_id, caller=caller, called=called,
                 codec=media.codec.name)
        self._emit(CallOffered(call.call_id, caller, called, self._now(), display))

    def _ringing(self, call: Call) -> None:
        call.ring_timer = None
        if self.calls.get(call.call_id) is call and call.state is CallState.OFFERED:
            self._reply(call.invite, 180, to_tag=sipmsg.header_tag(call.dialog.local_uri),
                        extra=self._common_headers())

    def _cancel(self, msg: SipMessage) -> None:
        call = self.calls.get(msg.call_id)
        if call is None or call.invite.top_via_branch != msg.top_via_branch:
            self._reply(msg, 481)
            return
        self._reply(msg, 200, to_tag=sipmsg.header_tag(call.dialog.local_uri))
        if call.state is CallState.OFFERED:  # defect 5: the INVITE gets its 487
            assert self.transport is not None
            self.transport.respond(call.invite, sipmsg.build_response(
                call.invite, 487, to_tag=sipmsg.header_tag(call.dialog.local_uri)))
            log.info("sip.cancelled", call_id=call.call_id)
            self._end(call, EndReason.CALLER_CANCELLED, HungUpBy.CALLER)

    def _bye(self, msg: SipMessage) -> None:
        call = self.calls.get(msg.call_id)
        if call is not None and call.state is not CallState.OFFERED:
            self._reply(msg, 200)
            log.info("sip.caller_bye", call_id=call.call_id)
            self._end(call, EndReason.CALLER_HUNG_UP, HungUpBy.CALLER)
            return
        leg = self.legs.get(msg.call_id)
        if leg is not None and leg.dialog is not None:
            self._reply(msg, 200)
            leg.remote_bye()
            return
        self._reply(msg, 481)

    def _info(self, msg: SipMessage) -> None:
        call = self.calls.get(msg.call_id)
        if call is None:
            self._reply(msg, 481)
            return
        self._reply(msg, 200)
        ctype = msg.get("content-type").lower()
        text = msg.body.decode("ascii", "replace")
        digit = ""
        if "dtmf-relay" in ctype:
            for line in text.splitlines():
                key, _, value = line.partition("=")
                if key.strip().lower() == "signal":
                    digit = value.strip().upper()
        elif "application/dtmf" in ctype:
            digit = text.strip().upper()
        if digit == "10":
            digit = "*"
        elif digit == "11":
            digit = "#"
        if len(digit) == 1 and digit in DTMF_INFO_KEYS:
            self._digit(call, digit, DigitSource.INFO)
        elif digit:
            log.info("sip.bad_dtmf_info", call_id=call.call_id, body=text[:40])

    def _digit(self, call: Call, digit: str, source: DigitSource) -> None:
        if self.calls.get(call.call_id) is not call or call.state is CallState.OFFERED:
            return
        loop_time = asyncio.get_running_loop().time()
        times = call.digit_times
        while times and loop_time - times[0] > 1.0:
            times.popleft()
        if len(times) >= self.settings.max_digits_per_second:
            log.warning("sip.dtmf_flood", call_id=call.call_id, digit=digit)
            return
        times.append(loop_time)
        log.info("sip.digit", call_id=call.call_id, digit=digit, source=source.value)
        self._emit(DigitReceived(call.call_id, digit, source, self._now()))

    # -- internals -----------------------------------------------------------------------------
    async def _watch_media(self) -> None:
        """Hang up answered calls whose caller sends no RTP (vanished without a BYE)."""
        limit = self.settings.media_timeout_s
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(5.0, limit / 4))
            now = loop.time()
            for call in list(self.calls.values()):
                media = call.media
                if media is None or call.answered_at is None:
                    continue
                last = media.last_rx if media.last_rx is not None else call.answered_at
                if now - last > limit:
                    log.warning("sip.media_timeout", call_id=call.call_id, silent_s=now - last)
                    await self.hangup(call.call_id, reason=EndReason.MEDIA_TIMEOUT)

    def _call(self, call_id: str) -> Call:
        try:
            return self.calls[call_id]
        except KeyError:
            raise CallNotFoundError(call_id) from None

    def _retransmit_ok(self, call: Call, ok: bytes, interval: float, elapsed: float) -> None:
        """Timer G: resend the 2xx until the ACK arrives; no ACK in 64*T1 ends the call."""
        if call.acked or self.calls.get(call.call_id) is not call:
            return
        if elapsed >= 64 * T1:
            log.warning("sip.no_ack", call_id=call.call_id)
            self.send_bye(call.dialog)
            self._end(call, EndReason.ERROR, HungUpBy.SYSTEM)
            return
        if elapsed > 0 and self.transport is not None:
            self.transport.send(ok, sipmsg.response_address(call.invite))
        loop = asyncio.get_running_loop()
        call.ok_timer = loop.call_later(interval, self._retransmit_ok, call, ok,
                                        min(interval * 2, T2), elapsed + interval)

    def _end(self, call: Call, reason: EndReason, by: HungUpBy, *, emit: bool = True) -> None:
        """Defect 4: the one place a call's timers, sockets and objects are released."""
        if self.calls.get(call.call_id) is not call:
            return
        del self.calls[call.call_id]
        call.state = next_state(call.call_id, call.state, Trigger.END)
        for timer in (call.ok_timer, call.ring_timer):
            if timer is not None:
                timer.cancel()
        call.ok_timer = call.ring_timer = None
        if call.operator is not None:
            call.operator.caller_gone()
            call.operator = None
        if call.media is not None:
            self.clock.remove(call.media)
            call.media.close()
        call.media_ready.set()
        log.info("sip.call_ended", call_id=call.call_id, reason=reason.value, by=by.value)
        if emit:
            self._emit(CallEnded(call.call_id, reason, by, self._now()))
