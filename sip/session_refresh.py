"""Session timers at run time (RFC 4028): refresh when we are the refresher, BYE on expiry.

A mixin of ``SipFrontDoor``; the negotiation itself is sans-IO in ``session_timer.py``. After
every 2xx to the caller's INVITE or refresh (re-INVITE/UPDATE) the call's timer restarts:

- refresher ``uac``: the caller must refresh before the interval minus min(32, interval/3);
  if it does not, we send BYE and the call ends with ``EndReason.SESSION_EXPIRED``;
- refresher ``uas``: we refresh at half the interval, by UPDATE without a body when the
  caller's INVITE allowed UPDATE, else by re-INVITE with our unchanged session description
  (2xx ACKed). A refresh answered 408/481 or never answered ends the session at once; any other
  failure leaves the expiry armed.
"""

from __future__ import annotations

import asyncio

import structlog

from cti.sip.events import EndReason, HungUpBy
from cti.sip.inbound import Call
from cti.sip.indialog import InDialogSession
from cti.sip.message import SipMessage
from cti.sip.session_timer import SessionTimer
from cti.sip.uas import ALLOW

log = structlog.get_logger("cti.sip")


class SessionRefresh(InDialogSession):
    def local_for(self, peer: str | None) -> tuple[str, int]:
        raise NotImplementedError

    def contact_for(self, peer: str | None) -> str:
        raise NotImplementedError

    def session_refreshed(self, call: Call, timer: SessionTimer | None) -> None:
        call.timer = timer
        self.stop_session_timer(call)
        if timer is None or self.calls.get(call.call_id) is not call:
            return
        loop = asyncio.get_running_loop()
        if timer.refresher == "uac":
            call.timer_handle = loop.call_later(timer.expires_after_s, self._session_expired, call)
        else:
            call.timer_handle = loop.call_later(timer.refresh_after_s, self._refresh, call)

    def stop_session_timer(self, call: Call) -> None:
        if call.timer_handle is not None:
            call.timer_handle.cancel()
            call.timer_handle = None

    def _session_expired(self, call: Call) -> None:
        call.timer_handle = None
        if self.calls.get(call.call_id) is not call:
            return
        log.warning("sip.session_expired", call_id=call.call_id,
                    interval_s=call.timer.interval_s if call.timer else None)
        self.send_bye(call.dialog)
        self._end(call, EndReason.SESSION_EXPIRED, HungUpBy.SYSTEM)

    def _refresh(self, call: Call) -> None:
        timer, transport = call.timer, self.transport
        if timer is None or transport is None or self.calls.get(call.call_id) is not call:
            return
        loop = asyncio.get_running_loop()
        call.timer_handle = loop.call_later(timer.expires_after_s - timer.refresh_after_s,
                                            self._session_expired, call)
        peer = call.dialog.next_hop()[0]
        extra = [("Session-Expires", f"{timer.interval_s};refresher=uas"),
                 ("Supported", "timer"), ("Allow", ALLOW),
                 ("User-Agent", self.settings.user_agent)]
        allowed = {m.strip().upper() for v in call.invite.all("allow") for m in v.split(",")}
        body = b""
        method = "UPDATE"
        if "UPDATE" not in allowed:
            if call.media is None:
                return
            method = "INVITE"
            body = call.sdp.offer(call.media.local_port, (call.media.codec,), call.media.event_pt)
            extra.append(("Content-Type", "application/sdp"))
        data, branch = call.dialog.request(method, self.local_for(peer), self.contact_for(peer),
                                           extra=extra, body=body)
        log.info("sip.session_refresh", call_id=call.call_id, method=method)
        tx = transport.start_client(method, data, branch, call.dialog.next_hop())
        tx.final.add_done_callback(lambda f: self._refresh_answered(call, method, f))

    def _refresh_answered(self, call: Call, method: str, fut: asyncio.Future[SipMessage]) -> None:
        if fut.cancelled() or self.calls.get(call.call_id) is not call:
            return
        if fut.exception() is not None:
            self._session_expired(call)  # no answer to the refresh: the session is gone
            return
        response = fut.result()
        status = response.status or 0
        if method == "INVITE" and 200 <= status < 300 and self.transport is not None:
            peer = call.dialog.next_hop()[0]
            ack, _ = call.dialog.request("ACK", self.local_for(peer), self.contact_for(peer),
                                         cseq=response.cseq[0])
            self.transport.send(ack, call.dialog.next_hop())
        if 200 <= status < 300:
            self.session_refreshed(call, call.timer)
        elif status in (408, 481):
            self.stop_session_timer(call)
            self._session_expired(call)
        else:
            log.warning("sip.session_refresh_refused", call_id=call.call_id, status=status)
