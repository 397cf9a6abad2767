"""Reliable provisional responses (RFC 3262) as UAS: 100rel, RSeq, PRACK.

A mixin of ``SipFrontDoor``. When the caller's INVITE says ``Require: 100rel`` our 180 Ringing
is sent reliably: ``Require: 100rel`` and ``RSeq`` (random start, 3), retransmitted from T1,
doubling, until the PRACK whose ``RAck`` names that RSeq, the INVITE's CSeq number and INVITE
arrives (200 OK to the PRACK). A PRACK that matches nothing gets 481. Without a PRACK for 64*T1
the INVITE is refused with 504 (3: "SHOULD reject the original request with a 5xx"). A caller
that only *supports* 100rel gets an ordinary 180, which the RFC allows. The 180 carries no
SDP, so the 200 OK may follow before the PRACK (3); it stops the retransmissions.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass

import structlog

from cti.sip import message as sipmsg
from cti.sip.events import EndReason, HungUpBy
from cti.sip.inbound import Call, InboundRequests
from cti.sip.message import SipMessage
from cti.sip.session_timer import supported_tags
from cti.sip.transaction import Timers
from cti.sip.wire import printable

log = structlog.get_logger("cti.sip")
_RACK = re.compile(r"^\s*(\d{1,10})\s+(\d{1,10})\s+([A-Za-z]+)\s*$")


@dataclass(slots=True)
class Reliable:
    """Our reliable 180 waiting for its PRACK."""

    rseq: int
    data: bytes
    started: float
    interval: float
    timer: asyncio.TimerHandle | None = None


def requires_100rel(invite: SipMessage) -> bool:
    return any(t.strip().lower() == "100rel" for key, value in invite.headers
               if key == "require" for t in sipmsg.split_header_list(value))


def offers_100rel(invite: SipMessage) -> bool:
    return requires_100rel(invite) or "100rel" in supported_tags(invite)


class ReliableProvisionals(InboundRequests):
    timers: Timers
    pracks: int

    def _send_ringing(self, call: Call) -> None:
        assert self.transport is not None
        extra = self._common_headers(sipmsg.peer_host(call.invite))
        tag = sipmsg.header_tag(call.dialog.local_uri)
        if not requires_100rel(call.invite):
            self._reply(call.invite, 180, to_tag=tag, extra=extra)
            return
        rseq = random.randint(1, 2**31 - 1)
        data = sipmsg.build_response(call.invite, 180, to_tag=tag, extra=[
            *extra, ("Require", "100rel"), ("RSeq", str(rseq))])
        loop = asyncio.get_running_loop()
        call.reliable = Reliable(rseq, data, loop.time(), self.timers.t1)
        self.transport.respond(call.invite, data)
        call.reliable.timer = loop.call_later(self.timers.t1, self._retransmit_reliable, call)
        log.info("sip.reliable_provisional", call_id=call.call_id, rseq=rseq)

    def _retransmit_reliable(self, call: Call) -> None:
        reliable = call.reliable
        if reliable is None or self.calls.get(call.call_id) is not call or self.transport is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - reliable.started >= 64 * self.timers.t1:
            self.stop_reliable(call)
            log.warning("sip.prack_missing", call_id=call.call_id, rseq=reliable.rseq)
            if call.state.value == "offered":
                self._reply(call.invite, 504, to_tag=sipmsg.header_tag(call.dialog.local_uri))
                self._end(call, EndReason.ERROR, HungUpBy.SYSTEM)
            return
        self.transport.respond(call.invite, reliable.data)
        reliable.interval *= 2
        give_up = reliable.started + 64 * self.timers.t1 - loop.time()
        reliable.timer = loop.call_later(min(reliable.interval, give_up),
                                         self._retransmit_reliable, call)

    def stop_reliable(self, call: Call) -> None:
        """The final response went out (or the call ended): no more 180 retransmissions."""
        if call.reliable is not None and call.reliable.timer is not None:
            call.reliable.timer.cancel()
        call.reliable = None

    def _prack(self, msg: SipMessage) -> None:
        call = self.calls.get(msg.call_id)
        if call is None or not call.dialog.matches(msg):
            self._reply(msg, 481)
            return
        rack = _RACK.match(msg.get("rack"))
        reliable = call.reliable
        if rack is None or reliable is None or (
                int(rack.group(1)), int(rack.group(2)), rack.group(3).upper()) != (
                reliable.rseq, call.invite.cseq[0], "INVITE"):
            log.info("sip.prack_unmatched", call_id=call.call_id,
                     rack=printable(msg.get("rack"), 40))
            self._reply(msg, 481)
            return
        if not call.dialog.in_order(msg):
            self._reply(msg, 500, extra=[("Retry-After", "1")])
            return
        self.stop_reliable(call)
        self.pracks += 1
        self._reply(msg, 200, to_tag=call.dialog.local_tag)
        log.info("sip.prack", call_id=call.call_id, rseq=reliable.rseq)
