"""A small SIP user agent for the demo: callers that dial the helpdesk, operator phones that
answer. Built on ``cti.sip.message`` and ``cti.sip.sdp``; media is received and dropped (the demo
is about the helpdesk's screens, not about audio), so each call binds one RTP socket.

UDP on loopback; requests are retransmitted on RFC 3261's T1 schedule until answered (bounded),
so a lost datagram does not lose a call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog

from cti.sip.message import (
    SipMessage,
    SipParseError,
    build_request,
    build_response,
    header_tag,
    header_uri,
    new_branch,
    new_call_id,
    new_tag,
    parse,
    uri_hostport,
    uri_user,
)
from cti.sip.sdp import Codec, build_sdp

log = structlog.get_logger()
T1 = 0.5
MAX_TRIES = 7  # 0.5 + 1 + 2 + 4 + 4 + 4 + 4 s: a request unanswered for ~20 s is given up


class _Drop(asyncio.DatagramProtocol):
    """An RTP socket that takes whatever the helpdesk sends and forgets it."""


@dataclass
class Dialog:
    call_id: str
    local_uri: str
    local_tag: str
    remote_uri: str
    remote_tag: str = ""
    remote_target: str = ""
    route: list[str] = field(default_factory=list)
    cseq: int = 1
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    final_status: int = 0
    rtp: asyncio.DatagramTransport | None = None

    def headers(self, method: str, cseq: int, branch: str, via: str) -> list[tuple[str, str]]:
        to = f"<{self.remote_uri}>" + (f";tag={self.remote_tag}" if self.remote_tag else "")
        return [("Via", f"SIP/2.0/UDP {via};branch={branch};rport"), ("Max-Forwards", "70"),
                ("From", f"<{self.local_uri}>;tag={self.local_tag}"), ("To", to),
                ("Call-ID", self.call_id), ("CSeq", f"{cseq} {method}"),
                *[("Route", r) for r in self.route]]


class DemoPhones(asyncio.DatagramProtocol):
    """One UDP socket for every demo caller and operator phone."""

    def __init__(self, host: str, answer_users: frozenset[str], ring_s: float) -> None:
        self.host = host
        self.port = 0
        self.answer_users = answer_users
        self.ring_s = ring_s
        self.dialogs: dict[str, Dialog] = {}
        self.answered_by_operator = 0
        self._pending: dict[str, asyncio.Future[SipMessage]] = {}  # branch -> final response
        self._provisional: set[str] = set()  # INVITE branches that got a 1xx
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- socket ------------------------------------------------------------------------------

    async def open(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, port))
        self._transport = transport
        self.port = int(transport.get_extra_info("sockname")[1])

    async def close(self) -> None:
        for dialog in list(self.dialogs.values()):
            if not dialog.ended.is_set() and dialog.answered.is_set():
                with contextlib.suppress(TimeoutError, OSError):
                    await self.hang_up(dialog)
            self._end(dialog)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._transport is not None:
            self._transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message = parse(data, addr)
        except SipParseError as exc:
            log.warning("demo.bad_sip", error=str(exc))
            return
        if message.is_request:
            self._spawn(self._request(message, addr))
        else:
            self._response(message, addr)

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._transport is not None:
            self._transport.sendto(data, addr)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def _via(self) -> str:
        return f"{self.host}:{self.port}"

    # -- as a caller ---------------------------------------------------------------------------

    async def dial(self, caller: str, target: str) -> Dialog:
        """INVITE ``target`` (``sip:helpdesk@host:port``); returns once answered or refused."""
        dialog = Dialog(new_call_id(self.host), f"sip:{caller}@{self._via}", new_tag(), target)
        self.dialogs[dialog.call_id] = dialog
        dialog.rtp = await self._rtp_socket()
        sdp = build_sdp(self.host, int(dialog.rtp.get_extra_info("sockname")[1]),
                        (Codec.PCMU, Codec.PCMA), 101)
        branch = new_branch()
        headers = [*dialog.headers("INVITE", 1, branch, self._via),
                   ("Contact", f"<sip:{caller}@{self._via}>"), ("Content-Type", "application/sdp")]
        final = await self._transact(branch, build_request("INVITE", target, headers, sdp),
                                     uri_hostport(target), invite=True)
        dialog.final_status = final.status or 0
        if 200 <= dialog.final_status < 300:
            dialog.remote_tag = header_tag(final.get("to"))
            dialog.remote_target = header_uri(final.get("contact")) or target
            dialog.route = list(reversed(final.all("record-route")))
            self._ack(dialog, final)
            dialog.answered.set()
        else:
            self._end(dialog)
        return dialog

    def _ack(self, dialog: Dialog, final: SipMessage) -> None:
        headers = dialog.headers("ACK", 1, new_branch(), self._via)
        self._send(build_request("ACK", dialog.remote_target, headers), self._next_hop(dialog))

    async def send_digit(self, dialog: Dialog, digit: str) -> int:
        body = f"Signal={digit}\r\nDuration=160\r\n".encode()
        return await self._in_dialog(dialog, "INFO", body, "application/dtmf-relay")

    async def hang_up(self, dialog: Dialog) -> int:
        if dialog.ended.is_set():
            return 0
        status = await self._in_dialog(dialog, "BYE")
        self._end(dialog)
        return status

    async def _in_dialog(self, dialog: Dialog, method: str, body: bytes = b"",
                         content_type: str = "") -> int:
        dialog.cseq += 1
        branch = new_branch()
        headers = dialog.headers(method, dialog.cseq, branch, self._via)
        if content_type:
            headers.append(("Content-Type", content_type))
        final = await self._transact(branch, build_request(method, dialog.remote_target, headers, body),
                                     self._next_hop(dialog), invite=False)
        return final.status or 0

    def _next_hop(self, dialog: Dialog) -> tuple[str, int]:
        return uri_hostport(header_uri(dialog.route[0]) if dialog.route else dialog.remote_target)

    async def _transact(self, branch: str, data: bytes, addr: tuple[str, int], *,
                        invite: bool) -> SipMessage:
        """Send until a final response (an INVITE stops retransmitting at a provisional one)."""
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[branch] = future
        try:
            interval = T1
            for _ in range(MAX_TRIES):
                self._send(data, addr)
                done, _ = await asyncio.wait({future}, timeout=interval)
                if done:
                    return future.result()
                if invite and branch in self._provisional:
                    return await asyncio.wait_for(future, timeout=180)
                interval = min(interval * 2, 4.0)
            raise TimeoutError(f"no final response from {addr[0]}:{addr[1]}")
        finally:
            self._pending.pop(branch, None)
            self._provisional.discard(branch)

    def _response(self, message: SipMessage, addr: tuple[str, int]) -> None:
        branch = message.top_via_branch
        future = self._pending.get(branch)
        if message.status is None or message.status < 200:
            self._provisional.add(branch)
            return
        if future is not None and not future.done():
            future.set_result(message)
            return
        dialog = self.dialogs.get(message.call_id)
        if dialog is not None and message.cseq[1] == "INVITE" and message.status < 300:
            self._ack(dialog, message)  # a retransmitted 200: our ACK was lost

    # -- as an operator phone ------------------------------------------------------------------

    async def _request(self, request: SipMessage, addr: tuple[str, int]) -> None:
        method = request.method
        dialog = self.dialogs.get(request.call_id)
        if method == "INVITE" and dialog is None:
            await self._incoming(request, addr)
        elif method == "INVITE" and dialog is not None:  # a re-INVITE: same media as before
            self._send(build_response(request, 200, to_tag=dialog.local_tag,
                                      extra=[("Contact", f"<{dialog.local_uri}>"),
                                             ("Content-Type", "application/sdp")],
                                      body=self._answer_sdp(dialog)), addr)
        elif method == "ACK":
            if dialog is not None:
                dialog.answered.set()
        elif method == "BYE":
            self._send(build_response(request, 200 if dialog else 481), addr)
            if dialog is not None:
                self._end(dialog)
        elif method == "CANCEL":
            self._send(build_response(request, 200), addr)
            if dialog is not None and not dialog.answered.is_set():
                dialog.final_status = 487
                self._end(dialog)
        elif method in ("OPTIONS", "INFO", "NOTIFY", "UPDATE"):
            self._send(build_response(request, 200), addr)
        else:
            self._send(build_response(request, 405, extra=[("Allow", "INVITE, ACK, BYE, CANCEL, "
                                                                      "OPTIONS, INFO")]), addr)

    async def _incoming(self, invite: SipMessage, addr: tuple[str, int]) -> None:
        user = uri_user(invite.uri or "")
        if user not in self.answer_users:
            self._send(build_response(invite, 404), addr)
            return
        dialog = Dialog(invite.call_id, f"sip:{user}@{self._via}", new_tag(),
                        header_uri(invite.get("from")), header_tag(invite.get("from")))
        self.dialogs[dialog.call_id] = dialog
        dialog.rtp = await self._rtp_socket()
        self._send(build_response(invite, 180, to_tag=dialog.local_tag), addr)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(dialog.ended.wait(), timeout=self.ring_s)  # CANCEL while ringing
        if dialog.ended.is_set():
            self._send(build_response(invite, 487, to_tag=dialog.local_tag), addr)
            return
        ok = build_response(invite, 200, to_tag=dialog.local_tag,
                            extra=[("Contact", f"<{dialog.local_uri}>"),
                                   ("Content-Type", "application/sdp")],
                            body=self._answer_sdp(dialog))
        interval = T1
        for _ in range(MAX_TRIES):  # 200 OK until the ACK (RFC 3261 13.3.1.4)
            self._send(ok, addr)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(dialog.answered.wait(), timeout=interval)
            if dialog.answered.is_set() or dialog.ended.is_set():
                break
            interval = min(interval * 2, 4.0)
        if dialog.answered.is_set():
            self.answered_by_operator += 1

    def _answer_sdp(self, dialog: Dialog) -> bytes:
        assert dialog.rtp is not None
        return build_sdp(self.host, int(dialog.rtp.get_extra_info("sockname")[1]), (Codec.PCMU,), 101)

    # -- both ----------------------------------------------------------------------------------

    async def _rtp_socket(self) -> asyncio.DatagramTransport:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(_Drop, local_addr=(self.host, 0))
        return transport

    def _end(self, dialog: Dialog) -> None:
        dialog.ended.set()
        if dialog.rtp is not None:
            dialog.rtp.close()
            dialog.rtp = None
