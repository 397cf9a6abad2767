"""The outbound leg to an operator's phone, bridged to the caller (B2BUA).

Defect fixes (numbers from shared/notes/pyvoip-1.6.8.md):
- 3: the ACK for the operator's 2xx carries that 2xx's To-tag and Route set (dialog.py).
- 6: 404 -> OperatorFailed(not_found); 486/600/603 -> OperatorFailed(busy), and every non-2xx
  final response is ACKed (pyVoIP raised KeyError on 404 and left 486 un-ACKed and the call
  DIALING forever). No answer within ``ring_timeout_s`` -> CANCEL, ACK the 487, report
  OperatorNoAnswer. No response at all -> OperatorFailed(unreachable).
- 10: audio is relayed through a bounded queue on the drift-free media clock (media/rtp.py).
Either side hanging up ends the other leg.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog

from cti.sip import message as sipmsg
from cti.sip.callstate import CallState, Trigger, next_state
from cti.sip.dialog import Dialog
from cti.sip.events import (
    EndReason,
    HungUpBy,
    OperatorConnected,
    OperatorFailed,
    OperatorFailure,
    OperatorNoAnswer,
    OperatorRinging,
)
from cti.sip.media import MediaLeg
from cti.sip.media.rtp import bridge
from cti.sip.message import SipMessage, SipParseError
from cti.sip.sdp import Codec, SdpError, parse_offer
from cti.sip.session import LocalSession
from cti.sip.transport import ClientTransaction, TransactionTimeoutError
from cti.sip.uas import ALLOW
from cti.sip.wire import host_for_uri

if TYPE_CHECKING:
    from cti.sip.adapter import Call, SipFrontDoor

log = structlog.get_logger("cti.sip.operator")

BUSY = frozenset({486, 600, 603})
NOT_FOUND = frozenset({404, 410, 480, 484, 604})
UNREACHABLE = frozenset({408, 502, 503, 504})


def failure_for(status: int) -> OperatorFailure:
    if status in BUSY:
        return OperatorFailure.BUSY
    if status in NOT_FOUND:
        return OperatorFailure.NOT_FOUND
    if status in UNREACHABLE:
        return OperatorFailure.UNREACHABLE
    return OperatorFailure.ERROR


def _next_hop_host(door: SipFrontDoor, uri: str) -> str | None:
    try:
        return (door.settings.outbound_proxy or sipmsg.uri_hostport(uri))[0]
    except SipParseError:
        return None  # the INVITE's own send path reports the bad URI


class OperatorLeg:
    def __init__(self, door: SipFrontDoor, call: Call, uri: str, ring_timeout_s: float) -> None:
        self.door = door
        self.call = call
        self.uri = uri if uri.startswith("sip:") else f"sip:{uri}"
        self.ring_timeout_s = ring_timeout_s
        self.peer = _next_hop_host(door, self.uri)  # its IP family picks our address (dual stack)
        self.sip_call_id = sipmsg.new_call_id(door.host_for(self.peer))
        host = host_for_uri(door.host_for(self.peer))
        self.local_from = f"<sip:{door.settings.user}@{host}>;tag={sipmsg.new_tag()}"
        self.to = f"<{self.uri}>"
        self.cseq = 1
        self.branch = sipmsg.new_branch()
        self.media: MediaLeg | None = None
        self.sdp = LocalSession(door.host_for(self.peer))
        self.dialog: Dialog | None = None
        self.tx: ClientTransaction | None = None
        self.ringing = False
        self.reported = False
        self.done = asyncio.Event()

    # -- the leg's life ------------------------------------------------------------------------
    async def run(self) -> None:
        door, call = self.door, self.call
        try:
            assert call.media is not None and door.transport is not None
            codec = call.media.codec
            media_host = door.media_host_for(self.peer)
            self.media = await door.rtp.open(
                media_host, door.settings.rtp_ports, codec, None,
                ("::1" if ":" in media_host else "127.0.0.1", 9), lambda _d: None,
                rtcp_interval_s=door.settings.rtcp_interval_s, near=call.media)
            codecs = (codec, Codec.PCMA if codec is Codec.PCMU else Codec.PCMU)
            sdp = self.sdp.offer(self.media.local_port, codecs, 101)
            invite = self._invite(sdp)
            addr = door.settings.outbound_proxy or sipmsg.uri_hostport(self.uri)
            log.info("sip.operator_dial", call_id=call.call_id, operator=self.uri)
            self.tx = door.transport.start_client("INVITE", invite, self.branch, addr,
                                                  self._provisional)
            try:
                final = await asyncio.wait_for(asyncio.shield(self.tx.final), self.ring_timeout_s)
            except TimeoutError:
                await self._ring_timeout(addr)
                return
            except TransactionTimeoutError:
                self._fail(OperatorFailure.UNREACHABLE, None)
                return
            await self._final(final, addr)
        except asyncio.CancelledError:
            self._cleanup()
            raise
        except Exception:
            log.exception("sip.operator_leg_failed", call_id=call.call_id, operator=self.uri)
            self._fail(OperatorFailure.ERROR, None)
        finally:
            if self.dialog is None:  # not bridged: nothing of this leg may outlive run()
                if self.tx is not None and not self.tx.final.done() and self.door.transport:
                    self.door.transport.abandon(self.tx)
                self._cleanup()
            self.done.set()

    def _transaction_headers(self, method: str) -> list[tuple[str, str]]:
        """Via/From/To/Call-ID/CSeq of the INVITE transaction (a CANCEL must repeat them)."""
        host, port = self.door.local_for(self.peer)
        return [
            ("Via", f"SIP/2.0/UDP {host_for_uri(host)}:{port};branch={self.branch};rport"),
            ("Max-Forwards", "70"),
            ("From", self.local_from),
            ("To", self.to),
            ("Call-ID", self.sip_call_id),
            ("CSeq", f"{self.cseq} {method}"),
        ]

    def _invite(self, sdp: bytes) -> bytes:
        door = self.door
        headers = [
            *self._transaction_headers("INVITE"),
            ("Contact", f"<{door.contact_for(self.peer)}>"),
            ("Allow", ALLOW),
            ("User-Agent", door.settings.user_agent),
            ("Content-Type", "application/sdp"),
        ]
        return sipmsg.build_request("INVITE", self.uri, headers, sdp)

    def _provisional(self, msg: SipMessage) -> None:
        if (msg.status or 0) >= 180 and not self.ringing and not self.reported:
            self.ringing = True
            self.door.emit(OperatorRinging(self.call.call_id, self.uri, self.door.now()))

    async def _ring_timeout(self, addr: tuple[str, int]) -> None:
        assert self.tx is not None and self.door.transport is not None
        if not self.tx.provisional_seen:
            self.door.transport.abandon(self.tx)
            self._fail(OperatorFailure.UNREACHABLE, None)
            return
        self._send_cancel(addr)
        self._report_no_answer()
        with contextlib.suppress(TimeoutError, TransactionTimeoutError, asyncio.CancelledError):
            final = await asyncio.wait_for(asyncio.shield(self.tx.final), 64 * 0.5)
            await self._final(final, addr)  # 487 -> ACK; a late 2xx -> ACK + BYE

    def _send_cancel(self, addr: tuple[str, int]) -> None:
        door = self.door
        assert door.transport is not None
        data = sipmsg.build_request("CANCEL", self.uri, self._transaction_headers("CANCEL"))
        tx = door.transport.start_client("CANCEL", data, self.branch, addr)
        tx.final.add_done_callback(lambda f: f.cancelled() or f.exception())
        # Nothing will be said on a cancelled leg: its RTP port goes back now, not when the
        # phone's 487 (or the INVITE transaction's 32 s timeout) finally ends the leg.
        self._release_media()

    async def _final(self, final: SipMessage, addr: tuple[str, int]) -> None:
        status = final.status or 0
        if status >= 300:
            self._ack_failure(final, addr)  # defect 6: every non-2xx final is ACKed
            if status == 487 or self.reported:
                self._report_no_answer()
            else:
                self._fail(failure_for(status), status)
            return
        self.dialog = Dialog.as_uac(self.local_from, self.to, self.sip_call_id, final, self.cseq)
        self._ack_2xx()
        if self.reported or self.call.operator is not self or self.media is None:
            self._hangup_operator()  # caller gone or ring timeout already reported
            return
        try:
            answer = parse_offer(final.body, self.door.media_family(self.peer))
        except SdpError as exc:
            log.warning("sip.operator_bad_sdp", call_id=self.call.call_id, error=str(exc))
            self._hangup_operator()
            self._fail(OperatorFailure.ERROR, status)
            return
        codec = answer.codecs[0]
        self.media.codec = codec
        self.media.remote = (answer.address, answer.port)
        call = self.call
        call.state = next_state(call.call_id, call.state, Trigger.OPERATOR_ANSWERED)
        assert call.media is not None
        call.play_token += 1
        bridge(call.media, self.media)
        self.door.rtp.add(self.media)
        self.reported = True
        if not self.ringing:
            self.door.emit(OperatorRinging(call.call_id, self.uri, self.door.now()))
        log.info("sip.operator_connected", call_id=call.call_id, operator=self.uri,
                 codec=codec.name)
        self.door.emit(OperatorConnected(call.call_id, self.uri, self.door.now()))

    def _ack_2xx(self) -> None:
        """Defect 3: the ACK names the 2xx's To-tag, goes along the route set, new branch."""
        assert self.dialog is not None and self.door.transport is not None
        data, _ = self.dialog.request("ACK", self.door.local_for(self.peer),
                                      self.door.contact_for(self.peer), cseq=self.cseq)
        self.door.transport.send(data, self.dialog.next_hop())

    def _ack_failure(self, final: SipMessage, addr: tuple[str, int]) -> None:
        door = self.door
        assert door.transport is not None
        host, port = door.local_for(self.peer)
        headers = [
            ("Via", f"SIP/2.0/UDP {host_for_uri(host)}:{port};branch={self.branch};rport"),
            ("Max-Forwards", "70"),
            ("From", self.local_from),
            ("To", final.get("to")),
            ("Call-ID", self.sip_call_id),
            ("CSeq", f"{self.cseq} ACK"),
        ]
        door.transport.send(sipmsg.build_request("ACK", self.uri, headers), addr)

    def stray_response(self, msg: SipMessage) -> None:
        """A retransmitted 2xx (our ACK was lost) or a late final: ACK it again."""
        if (msg.status or 0) >= 200 and msg.cseq == (self.cseq, "INVITE"):
            if (msg.status or 0) < 300:
                self.door.retransmitted_2xx += 1  # a strict UA repeats its 2xx until ACKed
            if self.dialog is not None:
                self._ack_2xx()
            elif (msg.status or 0) >= 300:
                self._ack_failure(msg, msg.source or sipmsg.uri_hostport(self.uri))

    # -- outcomes ------------------------------------------------------------------------------
    def _fail(self, reason: OperatorFailure, status: int | None) -> None:
        if self.reported:
            return
        self.reported = True
        call = self.call
        log.info("sip.operator_failed", call_id=call.call_id, operator=self.uri,
                 reason=reason.value, status=status)
        self._cleanup()
        if call.operator is self and call.call_id in self.door.calls:
            call.operator = None
            call.state = next_state(call.call_id, call.state, Trigger.OPERATOR_FAILED)
            self.door.emit(OperatorFailed(call.call_id, self.uri, reason, status, self.door.now()))

    def _report_no_answer(self) -> None:
        if self.reported:
            return
        self.reported = True
        call = self.call
        log.info("sip.operator_no_answer", call_id=call.call_id, operator=self.uri)
        if call.operator is self and call.call_id in self.door.calls:
            call.operator = None
            call.state = next_state(call.call_id, call.state, Trigger.OPERATOR_FAILED)
            self.door.emit(OperatorNoAnswer(call.call_id, self.uri, self.door.now()))

    def caller_gone(self) -> None:
        """The caller's call ended: CANCEL a ringing leg, BYE an answered one."""
        self.reported = True
        if self.dialog is not None:
            self._hangup_operator()
        elif self.tx is not None and not self.tx.final.done() and self.tx.provisional_seen:
            self._send_cancel(self.door.settings.outbound_proxy or sipmsg.uri_hostport(self.uri))
        elif self.tx is not None and not self.tx.final.done() and self.door.transport:
            self.door.transport.abandon(self.tx)
            self._cleanup()
        else:
            self._cleanup()

    def remote_bye(self) -> None:
        """The operator hung up while bridged: end the caller's call."""
        self.dialog = None
        call = self.call
        self._cleanup()
        if call.call_id in self.door.calls and call.state is CallState.BRIDGED:
            call.operator = None
            self.door.send_bye(call.dialog)
            self.door.end_call(call, EndReason.OPERATOR_HUNG_UP, HungUpBy.OPERATOR)

    def _hangup_operator(self) -> None:
        if self.dialog is not None:
            self.door.send_bye(self.dialog)
            self.dialog = None
        self._cleanup()

    def _release_media(self) -> None:
        if self.media is not None:
            self.door.rtp.remove(self.media)
            self.media.close()
            self.media = None

    def _cleanup(self) -> None:
        self._release_media()
        if self.door.legs.get(self.sip_call_id) is self and self.dialog is None:
            if self.tx is None or self.tx.final.done():
                del self.door.legs[self.sip_call_id]  # defect 4: no leg objects left behind
