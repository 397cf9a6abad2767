"""SIP over UDP on the asyncio loop: the socket, its health, and the transaction layer's I/O.

Replaces pyVoIP's ``SIPClient`` receive loop and send path:

- Responses go to the address RFC 3261 18.2.2 / RFC 3581 name (``message.response_address``:
  the packet's source, never a ``received=`` taken from the wire); requests to the dialog's
  remote target or first Route. Every destination is checked (``wire.checked_destination``)
  before ``sendto``: asyncio closes a datagram socket on any non-OSError from ``sendto``.
- A send error of any kind is logged and counted and never closes the socket; if the socket
  dies anyway, ``on_lost`` tells the owner, which reopens it on the same address
  (``SipFrontDoor._reopen``). ``health()`` is the socket's real state for /healthz and metrics.
- Dual stack: one transport may own one socket per IP family (IPv4 and IPv6 listening at
  once); a datagram goes out of the socket of its destination's family, and the transaction
  layer is shared.
- Malformed input is answered 400 (or 505/513) when a Via can be recovered, else dropped; a
  log line either way, and nothing raises out of ``datagram_received``.
- Datagrams the kernel dropped because the socket's receive queue was full are read from the
  kernel (``SO_MEMINFO``, Linux) when asked (``read_drops``): the overload sign of a UDP
  service, counted in ``health()`` and used by the back-pressure.
- Server and client transactions (RFC 3261 17) live in ``transaction.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import time
from collections.abc import Callable
from typing import cast

import structlog

from cti.sip import message as sipmsg
from cti.sip.control import SocketHealth
from cti.sip.message import SipMessage, SipParseError
from cti.sip.transaction import (
    T1,
    T2,
    ClientTransaction,
    ServerTransactions,
    Timers,
    TransactionTimeoutError,
)
from cti.sip.wire import (
    BadAddressError,
    checked_destination,
    family_of,
    is_ip_literal,
    printable,
)

__all__ = ["T1", "T2", "ClientTransaction", "SipTransport", "SocketHealth",
           "TransactionTimeoutError", "open_transport", "suppress_future"]

log = structlog.get_logger("cti.sip.transport")

MAX_RESOLVING = 64  # host names being resolved at once (a flood of them is refused, counted)
RESOLVE_TIMEOUT_S = 5.0
_VERSION = re.compile(rb"^[A-Za-z]+ \S+ SIP/(\d+\.\d+)\r\n")
SO_MEMINFO = 55  # Linux <asm-generic/socket.h>: the socket's memory counters (sock_diag.h)
_MEMINFO = struct.Struct("9I")  # SK_MEMINFO_RMEM_ALLOC ... SK_MEMINFO_DROPS (the last, Linux 4.6+)


class SipTransport(asyncio.DatagramProtocol):
    """Owns the SIP socket. ``on_request`` gets every new (non-retransmitted) request."""

    def __init__(
        self,
        on_request: Callable[[SipMessage], None],
        on_response: Callable[[SipMessage], None],
        *,
        timers: Timers | None = None,
        on_lost: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.on_request = on_request
        self.on_response = on_response  # responses that match no client transaction
        self.on_lost = on_lost
        self.timers = timers or Timers()
        self._clock = clock
        self.transport: asyncio.DatagramTransport | None = None  # the first (primary) socket
        self.local: tuple[str, int] = ("127.0.0.1", 0)
        self.sockets: dict[int, asyncio.DatagramTransport] = {}  # by IP family (4, 6)
        self.addresses: dict[int, tuple[str, int]] = {}  # bound address by IP family
        self.server = ServerTransactions(self.timers, self.send)
        self.client: dict[tuple[str, str], ClientTransaction] = {}
        self.malformed = 0
        self.received = 0
        self.last_datagram_at: float | None = None
        self.send_errors = 0
        self.last_send_error = ""
        self.reopened = 0
        self.dropped = 0  # by the kernel, receive queue full (as of the last read_drops)
        self._drops_of: dict[asyncio.DatagramTransport, int] = {}
        self._drops_unreadable = False
        self.closing = False
        self._resolving: set[asyncio.Future[None]] = set()

    # -- protocol ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = cast(asyncio.DatagramTransport, transport)  # selector impl is no subclass
        local = transport.get_extra_info("sockname")[:2]
        family = family_of(local[0]) or 4
        self.sockets[family], self.addresses[family] = sock, local
        if self.transport is None or family_of(self.local[0]) == family:
            self.transport, self.local = sock, local

    def connection_lost(self, exc: Exception | None) -> None:
        lost = [f for f, t in self.sockets.items() if t.is_closing()]
        for family in lost:
            del self.sockets[family]
        if self.transport is not None and self.transport.is_closing():
            self.transport = None
        if self.closing:
            return
        where = ", ".join(_hostport(self.addresses[f]) for f in lost) or _hostport(self.local)
        log.error("sip.socket_lost", local=where, error=repr(exc) if exc else "closed")
        if self.on_lost is not None:
            self.on_lost()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1
        self.last_datagram_at = self._clock()
        try:
            self._datagram(data, addr[:2])
        except Exception:  # never let a datagram kill the transport
            log.exception("sip.datagram_failed", source=f"{addr[0]}:{addr[1]}", size=len(data))

    def error_received(self, exc: Exception) -> None:
        self._send_failed(f"socket error: {exc}")

    def read_drops(self) -> int:
        """Datagrams the kernel dropped on our sockets because their receive queue was full,
        in all (a reopened socket counts on from the old one's total); 0 where unreadable."""
        seen: dict[asyncio.DatagramTransport, int] = {}
        for sock in self.sockets.values():  # a transport per IP family
            try:
                raw = sock.get_extra_info("socket").getsockopt(
                    socket.SOL_SOCKET, SO_MEMINFO, _MEMINFO.size)
                drops = _MEMINFO.unpack(raw)[-1]
            except (OSError, AttributeError, struct.error) as exc:  # not Linux, or closed
                if not self._drops_unreadable:
                    self._drops_unreadable = True
                    log.info("sip.drops_unreadable", error=type(exc).__name__)
                continue
            self.dropped += max(0, drops - self._drops_of.get(sock, 0))
            seen[sock] = drops
        self._drops_of = seen
        return self.dropped

    def health(self) -> SocketHealth:
        t = self.transport
        bound = t is not None and not t.is_closing() and len(self.sockets) == len(self.addresses)
        return SocketHealth(
            bound=bound and not any(s.is_closing() for s in self.sockets.values()),
            local=", ".join(_hostport(self.addresses[f]) for f in sorted(self.addresses))
            or _hostport(self.local),
            datagrams_received=self.received,
            last_datagram_at=self.last_datagram_at,
            send_errors=self.send_errors,
            last_send_error=self.last_send_error,
            reopened=self.reopened,
            datagrams_dropped=self.dropped,
        )

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        if data.strip(b"\r\n") == b"":
            return  # RFC 5626 keep-alive
        try:
            msg = sipmsg.parse(data, addr)
        except SipParseError as exc:
            self.malformed += 1
            self._reject_malformed(data, addr, exc)
            return
        if msg.is_request:
            self._request(msg)
        else:
            self._response(msg)

    def _reject_malformed(self, data: bytes, addr: tuple[str, int], exc: SipParseError) -> None:
        why = str(exc)
        log.warning("sip.malformed", source=f"{addr[0]}:{addr[1]}", reason=printable(why, 120),
                    size=len(data))
        if data.startswith(b"SIP/") or data[:1].isspace():
            return  # never answer a response
        status, reason = exc.status, ""
        version = _VERSION.match(data[:200])
        if version and version.group(1) != b"2.0":
            status, reason = 505, "Version Not Supported"
        elif status == 400:
            reason = "Bad Request - " + printable(why.replace("\r", " ").replace("\n", " "), 80)
        try:
            head = data[: sipmsg.MAX_MESSAGE_BYTES].split(b"\r\n\r\n", 1)[0]
            first = head.split(b"\r\n", 1)[0].decode("ascii")
            method = first.split(" ", 1)[0]
            if method.upper() == "ACK" or not method.isascii():
                return
            fake = sipmsg.parse_lenient(head.decode("utf-8"), addr)
        except (UnicodeDecodeError, SipParseError, IndexError, ValueError):
            return
        # the Via of a malformed request is not to be trusted: answer where it came from
        self.send(sipmsg.build_response(fake, status, reason=reason or None), addr)

    def _request(self, msg: SipMessage) -> None:
        match self.server.receive(msg):
            case "new":
                self.on_request(msg)
            case "merged":
                log.info("sip.merged_request", call_id=printable(msg.call_id), method=msg.method)
                self.respond(msg, sipmsg.build_response(msg, 482, to_tag=sipmsg.new_tag()))
            case _:
                pass  # retransmission absorbed (last response re-sent) or ACK of a non-2xx

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
    def send(self, data: bytes, addr: tuple[str, int]) -> bool:
        """Send one datagram; False (logged, counted) when it could not be sent."""
        try:
            host, port = checked_destination(addr)
        except (BadAddressError, TypeError, IndexError) as exc:
            self._send_failed(f"refused destination: {exc}")
            return False
        if not is_ip_literal(host):  # never resolve on the loop: sendto would block on DNS
            self._resolve_then_send(data, host, port)
            return True
        family = family_of(host)
        if family not in self.addresses:
            served = " or ".join(f"IPv{f}" for f in sorted(self.addresses)) or "IPv4"
            self._send_failed(f"destination {printable(host)} is not {served}")
            return False
        transport = self.sockets.get(family)
        if transport is None or transport.is_closing():
            self._send_failed("socket not bound")
            return False
        try:
            transport.sendto(data, (host, port))
        except Exception as exc:  # a send error is counted, never fatal
            self._send_failed(f"{type(exc).__name__}: {exc}")
            return False
        return True

    def _resolve_then_send(self, data: bytes, host: str, port: int) -> None:
        if len(self._resolving) >= MAX_RESOLVING:
            self._send_failed(f"too many host names being resolved; dropped one for {host}")
            return
        task = asyncio.ensure_future(self._resolve_and_send(data, host, port))
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    async def _resolve_and_send(self, data: bytes, host: str, port: int) -> None:
        family = socket.AF_INET6 if family_of(self.local[0]) == 6 else socket.AF_INET
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, family=family, type=socket.SOCK_DGRAM)
        except (OSError, TimeoutError) as exc:
            self._send_failed(f"cannot resolve {printable(host)}: {exc}")
            return
        if not infos:
            self._send_failed(f"cannot resolve {printable(host)}")
            return
        self.send(data, (str(infos[0][4][0]), port))

    async def resolutions_done(self) -> None:
        """Wait for the sends that are waiting on a host name lookup."""
        if self._resolving:
            await asyncio.gather(*self._resolving, return_exceptions=True)

    def _send_failed(self, why: str) -> None:
        self.send_errors += 1
        self.last_send_error = printable(why, 160)
        log.warning("sip.send_failed", error=self.last_send_error, errors=self.send_errors)

    def respond(self, request: SipMessage, data: bytes) -> None:
        """Send a response through the request's server transaction (kept for retransmissions)."""
        try:
            addr = sipmsg.response_address(request)
        except SipParseError as exc:
            self._send_failed(f"no response address: {exc}")
            return
        self.server.respond(request, data, addr)

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
        tx.interval = self.timers.t1
        self.client[(branch, method)] = tx
        self.send(data, addr)
        tx.timer = loop.call_later(self.timers.t1, self._retransmit, tx)
        return tx

    def _retransmit(self, tx: ClientTransaction) -> None:
        """Timers A/E (retransmit) and B/F (give up after 64*T1)."""
        loop = asyncio.get_running_loop()
        if loop.time() - tx.started >= 64 * self.timers.t1:
            self._finish(tx)
            if not tx.final.done():
                tx.final.set_exception(TransactionTimeoutError(f"{tx.method} timed out"))
            return
        self.send(tx.data, tx.addr)
        tx.interval = (tx.interval * 2 if tx.method == "INVITE"
                       else min(tx.interval * 2, self.timers.t2))
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
        self.closing = True
        for tx in list(self.client.values()):
            self.abandon(tx)
        self.server.clear()
        for task in list(self._resolving):
            task.cancel()
        for sock in list(self.sockets.values()):
            sock.close()


def _hostport(addr: tuple[str, int]) -> str:
    host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
    return f"{host}:{addr[1]}"


async def open_transport(
    host: str,
    port: int,
    on_request: Callable[[SipMessage], None],
    on_response: Callable[[SipMessage], None],
    *,
    timers: Timers | None = None,
    on_lost: Callable[[], None] | None = None,
    also: tuple[str, int] | None = None,
) -> SipTransport:
    """Bind (host, port), and ``also`` (an address of the other IP family) for dual stack."""
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_datagram_endpoint(
        lambda: SipTransport(on_request, on_response, timers=timers, on_lost=on_lost),
        local_addr=(host, port),
    )
    if also is not None:
        if family_of(also[0]) == family_of(proto.local[0]):
            proto.close()
            raise ValueError(f"{also[0]} is not of the other IP family than {host}")
        try:
            await loop.create_datagram_endpoint(lambda: proto, local_addr=also)
        except OSError:
            proto.close()
            raise
    return proto


async def rebind(proto: SipTransport, host: str, port: int) -> None:
    """Bind a new socket on (host, port) for an existing transport (its state survives)."""
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: proto, local_addr=(host, port))
    proto.reopened += 1


def suppress_future(fut: asyncio.Future[SipMessage]) -> None:
    """Mark a future's exception as retrieved (abandoned transactions)."""
    with contextlib.suppress(asyncio.CancelledError, Exception):
        fut.exception()
