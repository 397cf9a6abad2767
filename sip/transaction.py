"""The transaction layer (RFC 3261 17, RFC 6026): matching, retransmission, timers.

Server transactions are matched per 17.2.3: the top Via's branch (RFC 3261 magic cookie),
its sent-by, and the method (ACK matches its INVITE; CANCEL has its own transaction), plus
the Call-ID, so a request that reuses a finished call's branch is never answered with that
call's response. A request without the magic cookie (RFC 2543) is matched on Request-URI,
From tag, Call-ID, CSeq and top Via.

States (server): INVITE ``proceeding`` -> ``completed`` (non-2xx: Timer G retransmits the
response until the ACK, Timer H gives up) -> ``confirmed`` (Timer I) -> gone; or, after a
2xx, ``accepted`` (RFC 6026, Timer L) absorbing retransmitted INVITEs while the UA core
retransmits the 2xx. Non-INVITE: ``trying``/``proceeding`` -> ``completed`` (Timer J).
Merged requests (8.2.2.2): a request without To-tag whose From-tag, Call-ID and CSeq equal a
live transaction's but whose key differs -> ``"merged"`` (the transport answers 482).

Client transactions (timers A/B/E/F) are driven by ``transport.SipTransport``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cti.sip import message as sipmsg
from cti.sip.message import SipMessage, SipParseError

T1 = 0.5
T2 = 4.0
T4 = 5.0
MAX_SERVER_TRANSACTIONS = 20_000
MAGIC = "z9hG4bK"

Verdict = Literal["new", "retransmission", "absorbed", "merged"]


@dataclass(frozen=True, slots=True)
class Timers:
    """RFC 3261 timer values (seconds); T1/T2 come from the configuration."""

    t1: float = T1
    t2: float = T2
    t4: float = T4


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


@dataclass(slots=True, eq=False)
class ServerTransaction:
    key: tuple[str, ...]
    method: str
    merge_key: tuple[str, ...] | None
    state: str = "proceeding"
    response: bytes | None = None
    status: int = 0
    addr: tuple[str, int] | None = None
    retransmit: asyncio.TimerHandle | None = None  # Timer G
    expiry: asyncio.TimerHandle | None = None  # Timer H / I / J / L
    interval: float = T1


def server_key(msg: SipMessage) -> tuple[str, ...]:
    """17.2.3 matching key; ACK is keyed as the INVITE it acknowledges."""
    method = "INVITE" if msg.method == "ACK" else (msg.method or "")
    via = msg.all("via")[0]
    branch = sipmsg.via_param(via, "branch") or ""
    if branch.startswith(MAGIC):
        host, port = sipmsg.via_sent_by(via)
        return (branch, f"{host}:{port}", method, msg.call_id)
    number = str(msg.cseq[0])
    # RFC 2543: the ACK's To-tag differs from the INVITE's (none), so it is left out
    return ("2543", msg.uri or "", msg.from_tag, msg.call_id, number, via.split(";")[0], method)


def merge_key(msg: SipMessage) -> tuple[str, ...] | None:
    if msg.to_tag or msg.method == "ACK":
        return None
    number, method = msg.cseq
    return (msg.from_tag, msg.call_id, str(number), method)


class ServerTransactions:
    """Every live server transaction; ``send`` puts a datagram on the wire."""

    def __init__(self, timers: Timers, send: Callable[[bytes, tuple[str, int]], object]) -> None:
        self.timers = timers
        self._send = send
        self.by_key: dict[tuple[str, ...], ServerTransaction] = {}
        self.by_merge: dict[tuple[str, ...], ServerTransaction] = {}
        self.absorbed = 0

    def __len__(self) -> int:
        return len(self.by_key)

    def receive(self, msg: SipMessage) -> Verdict:
        """Classify a request; retransmissions are answered here and never reach the core."""
        try:
            key = server_key(msg)
        except (SipParseError, ValueError, IndexError):
            return "absorbed"
        tx = self.by_key.get(key)
        if msg.method == "ACK":
            if tx is not None and tx.state in ("completed", "confirmed"):
                self._confirm(tx)
                return "absorbed"
            return "new"  # ACK for a 2xx: its own transaction, for the UA core
        if tx is not None:
            self.absorbed += 1
            if tx.response is not None and tx.addr is not None:
                self._send(tx.response, tx.addr)
            return "retransmission"
        mkey = merge_key(msg)
        if mkey is not None:
            other = self.by_merge.get(mkey)
            if other is not None and other.key != key:
                return "merged"
        if len(self.by_key) >= MAX_SERVER_TRANSACTIONS:
            oldest = next(iter(self.by_key.values()))
            self._drop(oldest)
        tx = ServerTransaction(key, msg.method or "", mkey, interval=self.timers.t1,
                               state="proceeding" if msg.method == "INVITE" else "trying")
        self.by_key[key] = tx
        if mkey is not None:
            self.by_merge[mkey] = tx
        return "new"

    def respond(self, request: SipMessage, data: bytes, addr: tuple[str, int]) -> None:
        """Send a response within the request's transaction and move the transaction on."""
        try:
            key = server_key(request)
        except (SipParseError, ValueError, IndexError):
            key = ()
        tx = self.by_key.get(key)
        self._send(data, addr)
        if tx is None or request.method == "ACK":
            return
        status = int(data[8:11]) if data[8:11].isdigit() else 500
        if tx.state in ("completed", "confirmed", "accepted") and status >= 200:
            return  # a final response was already sent; the first one stands
        tx.response, tx.status, tx.addr = data, status, addr
        if status < 200:
            tx.state = "proceeding"
            return
        loop = asyncio.get_running_loop()
        t1 = self.timers.t1
        if tx.method == "INVITE" and status < 300:
            tx.state = "accepted"  # RFC 6026: Timer L; the UA core retransmits the 2xx
            tx.expiry = loop.call_later(64 * t1, self._drop, tx)
        elif tx.method == "INVITE":
            tx.state = "completed"
            tx.retransmit = loop.call_later(t1, self._timer_g, tx)
            tx.expiry = loop.call_later(64 * t1, self._drop, tx)  # Timer H
        else:
            tx.state = "completed"
            tx.expiry = loop.call_later(64 * t1, self._drop, tx)  # Timer J

    def _timer_g(self, tx: ServerTransaction) -> None:
        if tx.state != "completed" or self.by_key.get(tx.key) is not tx:
            return
        if tx.response is not None and tx.addr is not None:
            self._send(tx.response, tx.addr)
        tx.interval = min(tx.interval * 2, self.timers.t2)
        tx.retransmit = asyncio.get_running_loop().call_later(tx.interval, self._timer_g, tx)

    def _confirm(self, tx: ServerTransaction) -> None:
        if tx.state == "confirmed":
            return
        tx.state = "confirmed"
        self._cancel_timers(tx)
        tx.expiry = asyncio.get_running_loop().call_later(self.timers.t4, self._drop, tx)  # I

    def _cancel_timers(self, tx: ServerTransaction) -> None:
        for handle in (tx.retransmit, tx.expiry):
            if handle is not None:
                handle.cancel()
        tx.retransmit = tx.expiry = None

    def _drop(self, tx: ServerTransaction) -> None:
        self._cancel_timers(tx)
        if self.by_key.get(tx.key) is tx:
            del self.by_key[tx.key]
        if tx.merge_key is not None and self.by_merge.get(tx.merge_key) is tx:
            del self.by_merge[tx.merge_key]

    def invite_of(self, cancel: SipMessage) -> tuple[str, ...] | None:
        """The key of the INVITE transaction a CANCEL names, if it is still live (9.2)."""
        try:
            key = server_key(cancel)
        except (SipParseError, ValueError, IndexError):
            return None
        invite_key = (*key[:-2], "INVITE", key[-1]) if key[0] != "2543" else (*key[:-1], "INVITE")
        return invite_key if invite_key in self.by_key else None

    def clear(self) -> None:
        for tx in list(self.by_key.values()):
            self._drop(tx)
