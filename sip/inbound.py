"""Inbound SIP requests of the front door: INVITE, ACK, CANCEL, BYE, INFO, OPTIONS, others.

A mixin of ``SipFrontDoor`` (adapter.py), split out to keep each module to one concern: this
one turns requests from callers into call state and events; adapter.py owns the commands.

Defect fixes here (numbers from shared/notes/pyvoip-1.6.8.md):
- 1: INVITE gets 100 Trying at once and CallOffered as soon as the RTP socket is bound.
- 5: CANCEL before answer -> 200 for the CANCEL and 487 for the INVITE, call ended.
- 8: OPTIONS -> 200 (503 on the HA standby); known but unsupported methods -> 405 with Allow; unknown -> 501.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from cti.sip import message as sipmsg
from cti.sip import uas
from cti.sip.callstate import CallState
from cti.sip.dialog import Dialog
from cti.sip.events import (
    CallEvent,
    CallOffered,
    CallRefused,
    DigitReceived,
    DigitSource,
    EndReason,
    HungUpBy,
)
from cti.sip.flood import FloodGuard, Refusal
from cti.sip.media import Media, MediaLeg
from cti.sip.message import SipMessage
from cti.sip.sdp import MediaOffer, NoCommonCodecError, SdpError, UnsupportedAddressError
from cti.sip.session import LocalSession, Stream, choose, parse_streams
from cti.sip.session_timer import (
    BadSessionExpiresError,
    IntervalTooSmallError,
    SessionTimer,
    negotiate,
)
from cti.sip.settings import SipSettings
from cti.sip.transport import SipTransport
from cti.sip.wire import family_of, printable

if TYPE_CHECKING:
    from cti.sip.operator import OperatorLeg
    from cti.sip.prack import Reliable

log = structlog.get_logger("cti.sip")

DTMF_INFO_KEYS = "0123456789*#ABCD"
RINGING_DELAY_S = 0.15


@dataclass(slots=True, eq=False)
class Call:
    call_id: str
    invite: SipMessage
    dialog: Dialog
    offer: MediaOffer
    streams: list[Stream]  # the streams of the caller's offer (one m-line each in our answer)
    chosen: int  # the audio stream we serve
    sdp: LocalSession
    state: CallState = CallState.OFFERED
    media: MediaLeg | None = None
    media_ready: asyncio.Event = field(default_factory=asyncio.Event)
    ok_timer: asyncio.TimerHandle | None = None
    acked: bool = False
    operator: OperatorLeg | None = None
    play_token: int = 0
    answered_at: float | None = None  # loop time
    ring_timer: asyncio.TimerHandle | None = None
    digit_times: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    timer: SessionTimer | None = None  # RFC 4028 session timer, when the caller asked for one
    timer_handle: asyncio.TimerHandle | None = None  # refresh or expiry, whichever is ours
    reliable: Reliable | None = None  # RFC 3262: our 180 waiting for its PRACK


class InboundRequests:
    """Request handling; the attributes and helpers below are provided by SipFrontDoor."""

    settings: SipSettings
    flood: FloodGuard
    _flood_logged: dict[str, float]
    calls: dict[str, Call]
    legs: dict[str, OperatorLeg]
    transport: SipTransport | None
    unanswered: dict[str, float]  # INVITEs accepted, not answered yet: loop time they came
    admits: Callable[[], bool]  # HA pair: false on the standby (OPTIONS and new INVITEs: 503)
    rtp: Media  # where the calls' RTP lives (media workers or this loop)

    def _emit(self, event: CallEvent) -> None:
        raise NotImplementedError

    def _reinvite(self, msg: SipMessage, call: Call, leg: OperatorLeg | None) -> None:
        raise NotImplementedError

    def _update(self, msg: SipMessage) -> None:
        raise NotImplementedError

    def _refer(self, msg: SipMessage) -> None:
        raise NotImplementedError

    def _local_contact(self, peer: str | None = None) -> tuple[tuple[str, int], str]:
        raise NotImplementedError

    def host_for(self, peer: str | None) -> str:
        raise NotImplementedError

    def media_host_for(self, peer: str | None) -> str:
        raise NotImplementedError

    def _session_ack(self, msg: SipMessage) -> None:
        raise NotImplementedError

    def _prack(self, msg: SipMessage) -> None:
        raise NotImplementedError

    def _send_ringing(self, call: Call) -> None:
        raise NotImplementedError

    def media_family(self, peer: str | None = None) -> int:
        """The IP family of the media we serve for a peer: its own with dual stack."""
        return family_of(self.media_host_for(peer)) or 4

    @property
    def running_late_s(self) -> float:
        """How late the service runs: the INVITE flood guard's saturation input (SipFrontDoor
        measures it)."""
        raise NotImplementedError

    def _now(self) -> datetime:
        raise NotImplementedError

    def _common_headers(self, peer: str | None = None) -> list[tuple[str, str]]:
        raise NotImplementedError

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        raise NotImplementedError

    def send_bye(self, dialog: Dialog) -> None:
        raise NotImplementedError

    def _end(self, call: Call, reason: EndReason, by: HungUpBy, *, emit: bool = True) -> None:
        raise NotImplementedError
    def _on_request(self, msg: SipMessage) -> None:
        refusal = uas.rejection(msg)
        if refusal is not None:
            log.info("sip.request_refused", method=printable(msg.method or "", 32),
                     status=refusal.status, reason=refusal.reason,
                     call_id=printable(msg.call_id))
            if msg.method != "ACK":
                self._reply(msg, refusal.status, extra=list(refusal.headers))
            return
        match msg.method:
            case "INVITE":
                self._invite(msg)
            case "ACK":
                self._ack(msg)
            case "CANCEL":
                self._cancel(msg)
            case "BYE":
                self._bye(msg)
            case "INFO":
                self._info(msg)
            case "UPDATE":
                self._update(msg)
            case "REFER":
                self._refer(msg)
            case "PRACK":
                self._prack(msg)
            case _ if not self.admits():  # OPTIONS to the standby: the dispatcher skips it
                self._reply(msg, 503, extra=[*self._common_headers(sipmsg.peer_host(msg))])
            case _:  # OPTIONS
                self._reply(msg, 200, extra=[("Accept", uas.ACCEPT),
                                             *self._common_headers(sipmsg.peer_host(msg))])

    def _ack(self, msg: SipMessage) -> None:
        call = self.calls.get(msg.call_id)
        if (call is not None and not call.acked and msg.cseq[0] == call.invite.cseq[0]
                and call.dialog.matches(msg)):
            call.acked = True
            if call.ok_timer is not None:
                call.ok_timer.cancel()
                call.ok_timer = None
            return
        self._session_ack(msg)  # the ACK of a re-INVITE's 2xx (maybe carrying an answer)

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
            found = self._in_dialog_request(msg)
            if found is None:
                return
            self._reinvite(msg, *found)
            return
        if call is not None:
            return  # same Call-ID, new branch: a forked copy; the first one wins
        if not self.admits():  # the standby: Kamailio tries the other node
            log.info("sip.invite_refused_standby", call_id=printable(msg.call_id))
            self._reply(msg, 503, extra=[("Retry-After", "1")])
            return
        source = msg.source[0] if msg.source else ""
        if self.settings.allow_from and source not in self.settings.allow_from:
            log.warning("sip.invite_refused", call_id=msg.call_id, source=source)
            self._reply(msg, 403)
            return
        refusal = self.flood.admit(source, asyncio.get_running_loop().time(), len(self.calls),
                                   self.running_late_s)
        if refusal is not None:
            self._refuse_flood(msg, refusal, source)
            return
        try:
            timer = negotiate(msg, self.settings.min_se_s)
        except IntervalTooSmallError as exc:
            log.info("sip.session_interval_too_small", call_id=printable(msg.call_id))
            self._reply(msg, 422, extra=[("Min-SE", str(exc.min_se))])
            return
        except BadSessionExpiresError as exc:
            self._reply(msg, 400, extra=[("Warning", f'399 cti "{exc}"')])
            return
        if "sdp" not in msg.get("content-type").lower() or not msg.body:
            log.warning("sip.invite_without_sdp", call_id=msg.call_id)
            self._reply(msg, 488, extra=[("Warning", '399 cti "INVITE without SDP offer"')])
            return
        try:
            streams = parse_streams(msg.body)
            chosen, agreed = choose(streams, self.media_family(sipmsg.peer_host(msg)))
            offer = MediaOffer(agreed.address, agreed.port, (agreed.codec,), agreed.event_pt)
        except UnsupportedAddressError as exc:
            log.warning("sip.media_refused", call_id=printable(msg.call_id), detail=str(exc))
            self._reply(msg, 488, extra=[("Warning", '301 cti "Incompatible network address"')])
            return
        except NoCommonCodecError as exc:
            log.warning("sip.no_common_codec", call_id=printable(msg.call_id), detail=str(exc))
            self._reply(msg, 488, extra=[("Warning", '305 cti "Incompatible media format"')])
            return
        except SdpError as exc:
            log.warning("sip.bad_sdp", call_id=msg.call_id, detail=str(exc))
            self._reply(msg, 400, extra=[("Warning", f'399 cti "{exc}"')])
            return
        assert self.transport is not None
        self.transport.respond(msg, sipmsg.build_response(msg, 100))
        call = Call(msg.call_id, msg, Dialog.as_uas(msg, sipmsg.new_tag()), offer, streams,
                    chosen, LocalSession(self.host_for(sipmsg.peer_host(msg))), timer=timer)
        self.calls[call.call_id] = call
        self.unanswered[call.call_id] = asyncio.get_running_loop().time()
        self.spawn(self._prepare(call))

    async def _prepare(self, call: Call) -> None:
        offer = call.offer
        try:
            media = await self.rtp.open(
                self.media_host_for(sipmsg.peer_host(call.invite)), self.settings.rtp_ports,
                offer.codecs[0], offer.event_pt,
                (offer.address, offer.port), lambda d: self._digit(call, d, DigitSource.RFC2833),
                rtcp_interval_s=self.settings.rtcp_interval_s)
        except OSError as exc:
            log.error("sip.rtp_unavailable", call_id=call.call_id, error=str(exc))
            if self.calls.get(call.call_id) is call:
                self.flood.refused[Refusal.RTP_PORTS] += 1
                self._reply(call.invite, 503, to_tag=sipmsg.header_tag(call.dialog.local_uri),
                            extra=[("Retry-After", str(self.flood.limits.retry_after_s))])
                self._end(call, EndReason.ERROR, HungUpBy.SYSTEM, emit=False)
                self._record_refusal(call.invite, Refusal.RTP_PORTS)
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
        log.info("sip.offered", call_id=call.call_id, called=called, caller_withheld=not caller,
                 codec=media.codec.name)
        self._emit(CallOffered(call.call_id, caller, called, self._now(), display))

    def _refuse_flood(self, msg: SipMessage, refusal: Refusal, source: str) -> None:
        """503 + Retry-After; one log line per reason and second, however hard the flood."""
        now = asyncio.get_running_loop().time()
        if now - self._flood_logged.get(refusal.value, -1.0) >= 1.0:
            self._flood_logged[refusal.value] = now
            log.warning("sip.invite_refused_flood", reason=refusal.value, source=source,
                        refused=self.flood.refused[refusal], calls=len(self.calls))
        retry = str(self.flood.limits.retry_after_s)
        self._reply(msg, 503, extra=[("Retry-After", retry)])
        self._record_refusal(msg, refusal)

    def _record_refusal(self, msg: SipMessage, refusal: Refusal) -> None:
        """A refused INVITE still leaves a call record (within the flood guard's budget)."""
        if not self.flood.record_refusal(asyncio.get_running_loop().time(), refusal):
            return
        caller = sipmsg.uri_user(sipmsg.header_uri(msg.get("from")))
        display = msg.get("from").split("<", 1)[0].strip().strip('"')
        called = sipmsg.uri_user(msg.uri or "") or sipmsg.uri_user(sipmsg.header_uri(msg.get("to")))
        self._emit(CallRefused(msg.call_id, msg.top_via_branch, caller, called, self._now(),
                               refusal.value, display))

    def _ringing(self, call: Call) -> None:
        call.ring_timer = None
        if self.calls.get(call.call_id) is call and call.state is CallState.OFFERED:
            self._send_ringing(call)

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

    def _find_dialog(self, msg: SipMessage) -> tuple[Call, OperatorLeg | None, Dialog] | None:
        """The caller's or an operator leg's dialog this in-dialog request belongs to (12.2)."""
        call = self.calls.get(msg.call_id)
        if call is not None and call.dialog.matches(msg):
            return call, None, call.dialog
        leg = self.legs.get(msg.call_id)
        if leg is not None and leg.dialog is not None and leg.dialog.matches(msg):
            return leg.call, leg, leg.dialog
        return None

    def _in_dialog_request(self, msg: SipMessage) -> tuple[Call, OperatorLeg | None] | None:
        """Match an in-dialog request and check its CSeq; answer 481/500 when it fails."""
        found = self._find_dialog(msg)
        if found is None:
            log.info("sip.no_dialog", method=msg.method, call_id=printable(msg.call_id))
            self._reply(msg, 481)
            return None
        call, leg, dialog = found
        if not dialog.in_order(msg):
            log.info("sip.cseq_out_of_order", method=msg.method, call_id=printable(msg.call_id))
            self._reply(msg, 500, extra=[("Retry-After", "1")])
            return None
        return call, leg

    def _bye(self, msg: SipMessage) -> None:
        call = self.calls.get(msg.call_id)
        if call is not None and call.state is CallState.OFFERED and not self.legs.get(msg.call_id):
            self._reply(msg, 481)  # no confirmed dialog yet: a caller must CANCEL
            return
        found = self._in_dialog_request(msg)
        if found is None:
            return
        call, leg = found
        self._reply(msg, 200)
        if leg is None:
            log.info("sip.caller_bye", call_id=call.call_id)
            self._end(call, EndReason.CALLER_HUNG_UP, HungUpBy.CALLER)
        else:
            leg.remote_bye()

    def _info(self, msg: SipMessage) -> None:
        found = self._in_dialog_request(msg)
        if found is None:
            return
        call, leg = found
        self._reply(msg, 200)
        if leg is not None:
            return  # the operator's phone sends its keys to the caller's ears, not to the IVR
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
