"""Blind transfer from the operator's phone: REFER (RFC 3515) with NOTIFY sipfrag progress.

A mixin of ``SipFrontDoor``. The operator presses Transfer: the phone sends REFER on the
operator leg's dialog. We answer 202, NOTIFY "100 Trying", take the caller off the bridge
(hold tone, call state back to ANSWERED), NOTIFY "200 OK" (subscription terminated), end the
operator leg with BYE and emit ``CallTransferred``: the coordinator connects the caller to the
target (another operator's phone, or a service queue ``sip:queue-<service>@...``).
A caller's REFER is refused politely (403 with a Warning); nothing changes for the call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from cti.sip import message as sipmsg
from cti.sip.audio import Player
from cti.sip.callstate import CallState, Trigger, next_state
from cti.sip.events import CallTransferred
from cti.sip.indialog import HOLD_TONE, InDialogSession
from cti.sip.media.rtp import unbridge
from cti.sip.message import SipMessage, SipParseError
from cti.sip.wire import printable

if TYPE_CHECKING:
    from cti.sip.dialog import Dialog
    from cti.sip.operator import OperatorLeg

log = structlog.get_logger("cti.sip")
MAX_TARGET = 256


class Transfers(InDialogSession):
    def _refer(self, msg: SipMessage) -> None:
        found = self._in_dialog_request(msg)
        if found is None:
            return
        call, leg = found
        if leg is None:
            log.info("sip.refer_refused", call_id=call.call_id, reason="from the caller")
            self._reply(msg, 403, extra=[("Warning", '399 cti "Only the helpdesk transfers calls"')])
            return
        targets = [v for k, v in msg.headers if k in ("refer-to", "r")]
        target = sipmsg.header_uri(targets[0]) if len(targets) == 1 else ""
        try:
            if not target.lower().startswith("sip:") or len(target) > MAX_TARGET:
                raise SipParseError("Refer-To must be one sip: URI")
            sipmsg.uri_hostport(target)
        except SipParseError as exc:
            self._reply(msg, 400, extra=[("Warning", f'399 cti "{printable(str(exc), 60)}"')])
            return
        if "?" in target or call.state is not CallState.BRIDGED or leg.dialog is None:
            self._reply(msg, 603 if "?" in target else 491)  # attended transfer / not bridged
            return
        self._reply(msg, 202, extra=self._common_headers(sipmsg.peer_host(msg)))
        dialog = leg.dialog
        self._notify(dialog, "SIP/2.0 100 Trying", "active;expires=60")
        caller = call.media
        if caller is not None and leg.media is not None:
            unbridge(caller, leg.media)
            caller.player = Player(self.library.encoded(HOLD_TONE, caller.codec), HOLD_TONE,
                                   loop=True)
        call.state = next_state(call.call_id, call.state, Trigger.TRANSFER)
        call.operator = None
        self._notify(dialog, "SIP/2.0 200 OK", "terminated;reason=noresource")
        self._end_transferred_leg(leg)
        log.info("sip.transferred", call_id=call.call_id, operator=leg.uri,
                 target=printable(target, 120))
        self._emit(CallTransferred(call.call_id, leg.uri, target, self._now()))

    def _notify(self, dialog: Dialog, frag: str, state: str) -> None:
        assert self.transport is not None
        local, contact = self._local_contact(dialog.next_hop()[0])
        data, branch = dialog.request("NOTIFY", local, contact, extra=[
            ("Event", "refer"), ("Subscription-State", state),
            ("Content-Type", "message/sipfrag;version=2.0")], body=f"{frag}\r\n".encode())
        tx = self.transport.start_client("NOTIFY", data, branch, dialog.next_hop())
        tx.final.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _end_transferred_leg(self, leg: OperatorLeg) -> None:
        leg.reported = True
        leg.caller_gone()  # BYE on its dialog, media closed, leg forgotten
