"""Session changes inside a dialog, on the caller's leg and on an operator's leg.

A mixin of ``SipFrontDoor`` (like inbound.py): re-INVITE (RFC 3261 14) and UPDATE (RFC 3311),
with or without SDP, from the caller's phone or the operator's phone.

- An offer is answered per RFC 3264 (session.py) and applied to that leg's RTP session: new
  address/port, new codec (a PCMA-only re-offer gets PCMA), direction.
- Hold: a leg whose phone offered sendonly/inactive gets no audio from us. While the operator
  holds, the caller is taken off the bridge and hears the hold tone; on resume the bridge is
  restored.
- A re-INVITE without SDP gets our current description as an offer in the 2xx; the answer
  comes in the ACK. The 2xx is retransmitted until the ACK arrives (Timer G's schedule, given
  up after 64*T1).
- An offer we cannot take (no common codec, IPv6 on an IPv4 socket) gets 488 with a Warning
  and a log line, and the session stays as it was.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from cti.sip import message as sipmsg
from cti.sip.audio import Player, PromptLibrary
from cti.sip.callstate import CallState
from cti.sip.inbound import Call, InboundRequests
from cti.sip.media import MediaLeg
from cti.sip.media.rtp import bridge, unbridge
from cti.sip.message import SipMessage
from cti.sip.sdp import NoCommonCodecError, SdpError, UnsupportedAddressError
from cti.sip.session import LocalSession, Negotiated, choose, parse_streams
from cti.sip.session_timer import (
    BadSessionExpiresError,
    IntervalTooSmallError,
    SessionTimer,
    negotiate,
)
from cti.sip.transaction import Timers
from cti.sip.wire import printable

if TYPE_CHECKING:
    from cti.sip.operator import OperatorLeg

log = structlog.get_logger("cti.sip")
HOLD_TONE = "tone:hold"
HELD = ("sendonly", "inactive")


class InDialogSession(InboundRequests):
    """re-INVITE / UPDATE handling; attributes come from SipFrontDoor."""

    timers: Timers
    library: PromptLibrary
    _pending_2xx: dict[tuple[str, int], asyncio.TimerHandle]
    _offers_out: dict[tuple[str, int], MediaLeg]

    def session_refreshed(self, call: Call, timer: SessionTimer | None) -> None:
        """A 2xx to the caller's INVITE or refresh went out: (re)start its session timer."""
        raise NotImplementedError

    def _reinvite(self, msg: SipMessage, call: Call, leg: OperatorLeg | None
                  ) -> None:
        self._session_request(msg, call, leg)

    def _update(self, msg: SipMessage) -> None:
        found = self._in_dialog_request(msg)
        if found is not None:
            self._session_request(msg, *found)

    def _session_request(self, msg: SipMessage, call: Call,
                         leg: OperatorLeg | None) -> None:
        media = call.media if leg is None else leg.media
        sdp = call.sdp if leg is None else leg.sdp
        if media is None:
            self._reply(msg, 491 if leg is None else 481)  # the session is not set up yet
            return
        peer = sipmsg.peer_host(msg)
        timer = None
        if leg is None:  # the caller's re-INVITE/UPDATE is also a session refresh (RFC 4028)
            try:
                timer = negotiate(msg, self.settings.min_se_s)
            except IntervalTooSmallError as exc:
                self._reply(msg, 422, extra=[("Min-SE", str(exc.min_se))])
                return
            except BadSessionExpiresError as exc:
                self._reply(msg, 400, extra=[("Warning", f'399 cti "{exc}"')])
                return
        common = [*self._common_headers(peer), *(timer.headers() if timer else [])]
        extra = [*common, ("Content-Type", "application/sdp")]
        if msg.body:
            try:
                streams = parse_streams(msg.body)
                chosen, agreed = choose(streams, self.media_family(peer))
            except (UnsupportedAddressError, NoCommonCodecError) as exc:
                log.warning("sip.offer_refused", call_id=call.call_id, method=msg.method,
                            leg="caller" if leg is None else "operator", detail=str(exc))
                self._reply(msg, 488, extra=[("Warning", f'305 cti "{printable(str(exc), 60)}"')])
                return
            except SdpError as exc:
                self._reply(msg, 400, extra=[("Warning", f'399 cti "{printable(str(exc), 60)}"')])
                return
            self._apply(call, leg, media, agreed)
            body = sdp.answer(streams, chosen, media.local_port, agreed)
        elif msg.method == "UPDATE":
            self._reply(msg, 200, extra=common)  # a refresh without SDP
            if leg is None:
                self.session_refreshed(call, timer)
            return
        else:  # offerless re-INVITE: we offer what we have, the ACK answers
            body = _current_offer(sdp, media)
            self._offers_out[(msg.call_id, msg.cseq[0])] = media
        tag = (leg.dialog.local_tag if leg is not None and leg.dialog is not None
               else call.dialog.local_tag)
        ok = sipmsg.build_response(msg, 200, to_tag=tag, extra=extra, body=body)
        assert self.transport is not None
        self.transport.respond(msg, ok)
        if leg is None:
            self.session_refreshed(call, timer)
        if msg.method == "INVITE":
            self._retransmit_2xx((msg.call_id, msg.cseq[0]), ok, sipmsg.response_address(msg),
                                 self.timers.t1, 0.0)

    def _session_ack(self, msg: SipMessage) -> None:
        found = self._find_dialog(msg)
        if found is None:
            return
        call, leg, _dialog = found
        key = (msg.call_id, msg.cseq[0])
        timer = self._pending_2xx.pop(key, None)
        if timer is not None:
            timer.cancel()
        media = self._offers_out.pop(key, None)
        if media is None or not msg.body:
            return
        try:
            _chosen, agreed = choose(parse_streams(msg.body),
                                     self.media_family(sipmsg.peer_host(msg)))
        except SdpError as exc:
            log.warning("sip.answer_refused", call_id=call.call_id, detail=str(exc))
            return
        self._apply(call, leg, media, agreed)

    def _apply(self, call: Call, leg: OperatorLeg | None, media: MediaLeg,
               agreed: Negotiated) -> None:
        changed = ((agreed.address, agreed.port) != media.remote or agreed.codec != media.codec
                   or agreed.remote_direction != media.remote_direction)
        media.remote = (agreed.address, agreed.port)
        media.codec = agreed.codec
        if leg is None:
            media.event_pt = agreed.event_pt
        media.remote_direction = agreed.remote_direction
        media.send_enabled = agreed.remote_direction in ("sendrecv", "recvonly")
        if changed:
            log.info("sip.session_changed", call_id=call.call_id,
                     leg="caller" if leg is None else "operator", codec=agreed.codec.name,
                     direction=agreed.remote_direction, remote=f"{agreed.address}:{agreed.port}")
        self._follow_hold(call)

    def _follow_hold(self, call: Call) -> None:
        """Bridge or hold music, from what both phones last offered."""
        leg = call.operator
        caller, operator = call.media, leg.media if leg is not None else None
        if call.state is not CallState.BRIDGED or caller is None or operator is None:
            return
        if operator.remote_direction in HELD and caller.peer is operator:
            unbridge(caller, operator)
            caller.player = Player(self.library.encoded(HOLD_TONE, caller.codec), HOLD_TONE,
                                   loop=True)
            log.info("sip.operator_hold", call_id=call.call_id)
        elif operator.remote_direction not in HELD and caller.peer is None:
            bridge(caller, operator)
            log.info("sip.operator_resume", call_id=call.call_id)

    def _retransmit_2xx(self, key: tuple[str, int], ok: bytes,
                        addr: tuple[str, int], interval: float, elapsed: float) -> None:
        """A re-INVITE's 2xx until its ACK (13.3.1.4); no ACK in 64*T1: give up, log it."""
        if elapsed > 0:
            if key not in self._pending_2xx:
                return
            if elapsed >= 64 * self.timers.t1:
                self._pending_2xx.pop(key, None)
                self._offers_out.pop(key, None)
                log.warning("sip.reinvite_no_ack", call_id=printable(key[0]))
                return
            assert self.transport is not None
            self.transport.send(ok, addr)
        loop = asyncio.get_running_loop()
        self._pending_2xx[key] = loop.call_later(
            interval, self._retransmit_2xx, key, ok, addr, min(interval * 2, self.timers.t2),
            elapsed + interval)

    def _forget_dialog(self, call_id: str) -> None:
        for key in [k for k in self._pending_2xx if k[0] == call_id]:
            self._pending_2xx.pop(key).cancel()
            self._offers_out.pop(key, None)


def _current_offer(sdp: LocalSession, media: MediaLeg) -> bytes:
    return sdp.offer(media.local_port, (media.codec,), media.event_pt)
