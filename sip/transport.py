"""SIP over UDP on the asyncio loop: parsing, server-transaction replay, client transactions.

Replaces pyVoIP's ``SIPClient`` receive loop and send path:

- Defect 2/routing: pyVoIP sends every request and response to the registrar's
  ``(server, port)``. Here responses go to the Via address (RFC 3261 18.2.2, rport RFC 3581)
  and requests to the dialog's remote target or first Route.
- Malformed input (bad start line, missing headers, bad Content-Length, garbage, huge
  datagrams) is answered 400 with the reason when a Via can be recovered, else dropped; a
  log line either way, and nothing raises out of ``datagram_received``.
- A retransmitted request gets the transaction's last response again (no duplicate calls).
- Client transactions retransmit on RFC 3261 timers A/E and fail after 64*T1.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import structlog

from cti.sip import message as sipmsg
from cti.sip.message import SipMessage, SipParseError

log = structlog.get_logger("cti.sip.transport")

T1 = 0.5
T2 = 4.0
REPLAY_CACHE = 4096
_VIA_LINE = re.compile(rb"^(?:via|v)\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


class TransactionTimeoutError(TimeoutError):
    """No final response within 64*T1 (or the caller's own limit)."""


@dataclass(slots=True)
class ClientTransaction:
    branch: str
    method: str
    data: bytes
    addr: tuple[str, int]
    final: asyncio.Future[SipMessage]
    on_provisional: Callable[[SipMessage], None] | None = None
    provisional_seen: bool = False
    timer: asyncio.TimerHandle | None = None
    interval: float = T1
    started: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)


class SipTransport(asyncio.DatagramProtocol):
    """Owns the SIP socket. ``on_request`` gets every new (non-retransmitted) request."""

    def __init__(
        self,
        on_request: Callable[[SipMessage], None],
        on_response: Callable[[SipMessage], None],
    ) -> None:
        self.on_request = on_request
        self.on_response = on_response  # responses that match no client transaction
        self.transport: asyncio.DatagramTransport | None = None
        self.local: tuple[str, int] = ("127.0.0.1", 0)
        self._replay: OrderedDict[tuple[str, str], tuple[bytes, tuple[str, int]] | None] = (
            OrderedDict()
        )
        self.client: dict[tuple[str, str], ClientTransaction] = {}
        self.malformed = 0

    # -- protocol ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # selector impl is no subclass
        self.local = transport.get_extra_info("sockname")[:2]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self._datagram(data, addr)
        except Exception:  # never let a datagram kill the transport
            log.exception("sip.datagram_failed", source=f"{addr[0]}:{addr[1]}", size=len(data))

    def error_received(self, exc: Exception) -> None:
        log.info("sip.socket_error", error=str(exc))

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        if data.strip(b"\r\n") == b"":
            return  # RFC 5626 keep-alive
        try:
            msg = sipmsg.parse(data, addr)
        except SipParseError as exc:
            self.malformed += 1
            self._reject_malformed(data, addr, str(exc))
            return
        if msg.is_request:
            self._request(msg)
        else:
            self._response(msg)

    def _reject_malformed(self, data: bytes, addr: tuple[str, int], why: str) -> None:
        log.warning("sip.malformed", source=f"{addr[0]}:{addr[1]}", reason=why, size=len(data))
        if data.startswith(b"SIP/2.0") or data[:1].isspace() or len(data) > sipmsg.MAX_MESSAGE_BYTES:
            return  # never answer a response; a huge datagram may be a reflection attempt
        try:
            head = data.split(b"\r\n\r\n", 1)[0]
            first = head.split(b"\r\n", 1)[0].decode("ascii")
            method = first.split(" ", 1)[0]
            if method.upper() == "ACK" or not method.isalpha():
                return
            text = head.decode("utf-8")
            fake = sipmsg.parse_lenient(text, addr)
        except (UnicodeDecodeError, SipParseError, IndexError, ValueError):
            return
        reason = "Bad Request - " + why.replace("\r", " ").replace("\n", " ")[:80]
        self.send(sipmsg.build_response(fake, 400, reason=reason), sipmsg.response_address(fake))

    def _request(self, msg: SipMessage) -> None:
        key = (msg.top_via_branch or msg.call_id, msg.method or "")
        if msg.method == "ACK":
            self.on_request(msg)
            return
        if key in self._replay:
            cached = self._replay[key]
            if cached is not None:
                self.send(*cached)
            return
        self._replay[key] = None
        if len(self._replay) > REPLAY_CACHE:
            self._replay.popitem(last=False)
        self.on_request(msg)

    def _response(self, msg: SipMessage) -> None:
        try:
            _, method = msg.cseq
        except ValueError:
            return
        tx = self.client.get((msg.top_via_branch, method))
        if tx is None:
            self.on_response(msg)  # e.g. a retransmitted 2xx to INVITE: the dialog re-ACKs
            return
        status = msg.status or 0
        if status < 200:
            tx.provisional_seen = True
            if tx.method == "INVITE" and tx.timer is not None:
                tx.timer.cancel()  # timer A stops on a provisional response
                tx.timer = None
            if tx.on_provisional is not None:
                tx.on_provisional(msg)
            return
        self._finish(tx)
        if not tx.final.done():
            tx.final.set_result(msg)

    # -- sending -------------------------------------------------------------------------------
    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def respond(self, request: SipMessage, data: bytes) -> None:
        """Send a response and remember it for retransmissions of the request."""
        addr = sipmsg.response_address(request)
        if request.method != "ACK":
            self._replay[(request.top_via_branch or request.call_id, request.method or "")] = (
                data,
                addr,
            )
        self.send(data, addr)

    def start_client(
        self,
        method: str,
        data: bytes,
        branch: str,
        addr: tuple[str, int],
        on_provisional: Callable[[SipMessage], None] | None = None,
    ) -> ClientTransaction:
        loop = asyncio.get_running_loop()
        tx = ClientTransaction(branch, method, data, addr, loop.create_future(), on_provisional)
        tx.started = loop.time()
        self.client[(branch, method)] = tx
        self.send(data, addr)
        tx.timer = loop.call_later(T1, self._retransmit, tx)
        return tx

    def _retransmit(self, tx: ClientTransaction) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - tx.started >= 64 * T1:
            self._finish(tx)
            if not tx.final.done():
                tx.final.set_exception(TransactionTimeoutError(f"{tx.method} timed out"))
            return
        self.send(tx.data, tx.addr)
        tx.interval = tx.interval * 2 if tx.method == "INVITE" else min(tx.interval * 2, T2)
        tx.timer = loop.call_later(tx.interval, self._retransmit, tx)

    def _finish(self, tx: ClientTransaction) -> None:
        if tx.timer is not None:
            tx.timer.cancel()
            tx.timer = None
        self.client.pop((tx.branch, tx.method), None)

    def abandon(self, tx: ClientTransaction) -> None:
        """Stop a client transaction (the owner gave up waiting)."""
        self._finish(tx)
        if not tx.final.done():
            tx.final.cancel()

    def close(self) -> None:
        for tx in list(self.client.values()):
            self.abandon(tx)
        if self.transport is not None:
            self.transport.close()


async def open_transport(
    host: str,
    port: int,
    on_request: Callable[[SipMessage], None],
    on_response: Callable[[SipMessage], None],
) -> SipTransport:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_datagram_endpoint(
        lambda: SipTransport(on_request, on_response), local_addr=(host, port)
    )
    return proto


def suppress_future(fut: asyncio.Future[SipMessage]) -> None:
    """Mark a future's exception as retrieved (abandoned transactions)."""
    with contextlib.suppress(asyncio.CancelledError, Exception):
        fut.exception()
