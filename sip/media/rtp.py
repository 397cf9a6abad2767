"""RTP media on the asyncio loop: one socket per call leg, one shared drift-free clock.

Replaces pyVoIP's ``RTPClient`` (two threads per call, ``sleep(0.02)`` pacing):

- Defect 10: pyVoIP paces with ``sleep(0.02)`` and never catches up (~49.5 packets/s), so a
  relay's backlog grows without bound. ``MediaClock`` ticks on an absolute 20 ms grid
  (``loop.call_at(t0 + k * 0.02)``): a late tick sends the frames it owes (at most
  ``MAX_CATCH_UP``), so the long-run rate is exactly 50 packets/s. A bridged leg's outbound
  queue holds at most ``QUEUE_FRAMES`` (100 ms); older frames are dropped.
- Defect 4: no threads per call; ``RtpSession.close()`` closes the socket and takes the
  session off the clock, so nothing outlives the call.
- Receiving is the clock's too: every RTP socket is in the clock's own ``epoll`` set, and each
  tick reads what has arrived on all of them (``MAX_READS`` rounds of one ``epoll_wait`` each)
  before it sends. The process wakes once per tick, not once per packet, and a relayed frame
  goes out in the tick that read it.
- The per-packet work (headers, relay, playback, reading) is the media core's: ``_core.c``
  where it was built, else ``pycore.py`` (``core.py`` picks; ``sip/README.md``, Capacity, has
  the figures). This module keeps what is per call: ports, sockets, RTCP, DTMF, callbacks.
- Defect 9: audio is encoded with the negotiated codec (see ``audio.encode``).
- DTMF (RFC 4733): pyVoIP reports a digit only for the packet with the marker bit; a lost
  first packet loses the digit. Here a new event is recognised by its RTP timestamp and
  reported once, whichever of its packets arrives first.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from cti.sip.audio import Player
from cti.sip.media import core
from cti.sip.media.leg import MediaLeg
from cti.sip.media.pycore import FRAME_SAMPLES, MAX_CATCH_UP, MAX_READS, QUEUE_FRAMES, g711_tables
from cti.sip.media.rtcp import ReceptionStats, RtcpSession
from cti.sip.sdp import Codec

if TYPE_CHECKING:  # the Python core is the typed reference; the C one keeps to it
    from cti.sip.media.pycore import Engine, Leg
else:
    CORE = core.load()
    Engine, Leg = CORE.Engine, CORE.Leg

log = structlog.get_logger("cti.sip.media.rtp")

FRAME_S = 0.020
MAX_BIND_TRIES = 32  # binds tried per session before giving up (ports taken by other programs)
RTCP_INTERVAL_S = 5.0  # RFC 3550 6.2 minimum interval
DTMF_KEYS = "0123456789*#ABCD"
_monotonic = time.monotonic
__all__ = ["FRAME_SAMPLES", "MAX_CATCH_UP", "MAX_READS", "QUEUE_FRAMES", "MediaClock",
           "PortPool", "RtpSession", "attach", "bind_session", "bridge", "core_name",
           "open_session", "port_pool", "unbridge"]


def core_name() -> str:
    """The media core this process runs: "c" or "python"."""
    return "python" if Leg.__module__.endswith("pycore") else "c"


class RtpSession(Leg):
    """One call leg's RTP: the core's ``Leg`` (receive, paced send, relay, playback, all driven
    by a ``MediaClock``) and what is per call around it."""

    def __init__(
        self,
        codec: Codec,
        event_pt: int | None,
        remote: tuple[str, int],
        on_digit: Callable[[str], None],
    ) -> None:
        super().__init__(int(codec), -1 if event_pt is None else event_pt, remote,
                         random.getrandbits(32), random.getrandbits(16), random.getrandbits(32))
        self.on_digit = on_digit
        self.sock: socket.socket | None = None  # the RTP socket, once ``attach`` gave it a clock
        self.clock: MediaClock | None = None  # which reads it
        self.local_port = 0
        self._player: Player | None = None
        self.remote_direction = "sendrecv"  # what the peer last offered or answered
        self.stats = ReceptionStats()  # for RTCP receiver reports
        self.rtcp: RtcpSession | None = None
        self._last_event: tuple[int, int, int] | None = None  # (ssrc, timestamp, event)
        self._last_event_ended = False
        self.on_close: Callable[[], None] | None = None  # gives the port back to its pool
        self.unattached: tuple[socket.socket, socket.socket] | None = None  # bound, not attached
        self.closed = False

    @property
    def codec(self) -> Codec:
        return Codec(self.pt)

    @codec.setter
    def codec(self, value: Codec) -> None:
        self.pt = int(value)

    @property
    def event_pt(self) -> int | None:
        return None if self.dtmf_pt < 0 else self.dtmf_pt

    @event_pt.setter
    def event_pt(self, value: int | None) -> None:
        self.dtmf_pt = -1 if value is None else value

    @property
    def player(self) -> Player | None:
        return self._player

    @player.setter
    def player(self, value: Player | None) -> None:
        self._player = value
        if value is None:
            self.stop()
        else:
            self.play(value.audio, value.loop)

    def played(self) -> None:
        """The core played the whole playlist (a note of the clock's)."""
        player, self._player = self._player, None
        if player is not None:
            player.finished()

    # -- DTMF -------------------------------------------------------------------------------
    def telephone_event(self, payload: bytes, ssrc: int, ts: int, marker: bool) -> None:
        """An RFC 4733 packet the core received (a note of the clock's)."""
        if len(payload) < 4 or payload[0] >= len(DTMF_KEYS):
            return
        key = (ssrc, ts, payload[0])
        ended = bool(payload[1] & 0x80)
        if key == self._last_event and not (marker and self._last_event_ended):
            self._last_event_ended = self._last_event_ended or ended
            return  # continuation, end packet or retransmission of a reported event
        self._last_event = key
        self._last_event_ended = ended
        self.on_digit(DTMF_KEYS[payload[0]])

    # -- bridging ---------------------------------------------------------------------------
    def bridge_to(self, other: MediaLeg) -> None:
        assert isinstance(other, RtpSession), "both legs of a bridge live in one process"
        self._player = other._player = None
        self.bridge(other)

    def unbridge_from(self, other: MediaLeg) -> None:
        assert isinstance(other, RtpSession), "both legs of a bridge live in one process"
        self.unbridge(other)

    def close(self) -> None:
        self._player = None
        if self.rtcp is not None:
            self.rtcp.close()
            self.rtcp = None
        self.shut()
        self.closed = True
        if self.unattached is not None:  # bound, never attached
            for sock in self.unattached:
                sock.close()
            self.unattached = None
        if self.sock is not None:
            if self.clock is not None:
                self.clock.remove(self)
                self.clock.unwatch(self)
                self.clock = None
            self.sock.close()
            self.sock = None
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close()


def bridge(a: MediaLeg, b: MediaLeg) -> None:
    """Relay audio both ways (B2BUA); playback on both legs stops. Both legs are of one kind:
    in this process, or in the same media worker (which then relays)."""
    a.bridge_to(b)


def unbridge(a: MediaLeg, b: MediaLeg) -> None:
    """Stop relaying between two legs (operator hold); each leg plays its own audio again."""
    a.unbridge_from(b)


_TABLES = g711_tables()  # the relay's G.711 translations, once per process


class MediaClock:
    """One timer for all sessions, on an absolute 20 ms grid (defect 10): each tick the core
    reads what every watched socket received, then sends the frames the sending sessions owe;
    what needs Python comes back as notes (``pycore``)."""

    def __init__(self) -> None:
        self.sessions: set[RtpSession] = set()  # sending (after the answer)
        self._engine = Engine(_TABLES)
        self._handle: asyncio.TimerHandle | None = None
        self._t0 = 0.0

    @property
    def late_ticks(self) -> int:
        return self._engine.late_ticks

    @property
    def frames_sent(self) -> int:
        return self._engine.frames_sent

    def _start(self) -> None:
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._t0 = loop.time()
            self._handle = loop.call_at(self._t0 + FRAME_S, self._tick)

    def _stop_if_idle(self) -> None:
        if not self.sessions and not self._engine.receiving and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def add(self, session: RtpSession) -> None:
        """Start sending ``session``'s frames."""
        self._start()
        self._engine.add(session, int((asyncio.get_running_loop().time() - self._t0) / FRAME_S))
        self.sessions.add(session)

    def remove(self, session: RtpSession) -> None:
        self._engine.remove(session)
        self.sessions.discard(session)
        self._stop_if_idle()

    def watch(self, session: RtpSession, sock: socket.socket) -> None:
        """Read ``sock`` (the session's RTP socket) on every tick, and send on it, until
        ``unwatch``."""
        self._engine.watch(session, sock)
        session.sock, session.clock = sock, self
        self._start()

    def unwatch(self, session: RtpSession) -> None:
        """Stop reading the session's socket (before it is closed)."""
        if session.sock is not None:
            self._engine.unwatch(session, session.sock.fileno())
        self._stop_if_idle()

    def receiving(self) -> int:
        """How many sockets this clock reads."""
        return self._engine.receiving

    def close(self) -> None:
        self._engine.close()

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            notes = self._engine.receive(_monotonic())
            if notes is not None:
                self._notes(notes)
        finally:
            k = int((loop.time() - self._t0) / FRAME_S)
            self._handle = loop.call_at(self._t0 + (k + 1) * FRAME_S, self._tick)
        notes = self._engine.send(k)
        if notes is not None:
            self._notes(notes)
        self._stop_if_idle()

    @staticmethod
    def _notes(notes: list[tuple[Any, ...]]) -> None:
        """What the core handed to Python: one failing note never stops the others."""
        for kind, session, *rest in notes:
            try:
                if kind == "event":
                    session.telephone_event(*rest)
                elif kind == "finished":
                    session.played()
                elif kind == "send_error":
                    log.warning("sip.rtp.send_error", port=session.local_port,
                                error=_strerror(rest[0]))
                elif kind == "receive_error":
                    log.debug("sip.rtp.receive_error", port=session.local_port,
                              error=_strerror(rest[0]))
            except Exception:  # a callback's failure must not break the clock or the call
                log.exception("sip.rtp.note_failed", port=session.local_port, note=kind)


def _strerror(code: int) -> str:
    return f"[Errno {code}] {os.strerror(code)}" if code else "unknown error"


class PortPool:
    """The even RTP ports of one range on one host, handed out without probing the whole range:
    a queue of free ports, taken from the front and given back at the end when a session closes
    (so a port just freed is the last to be reused). A port some other program holds fails its
    bind once and goes to the back. Built once per (host, range), shared by every session."""

    def __init__(self, ports: range, shard: tuple[int, int] = (0, 1)) -> None:
        index, count = shard  # media worker ``index`` of ``count`` takes every count-th pair
        even = [p for p in ports if p % 2 == 0 and p + 1 in ports and (p // 2) % count == index]
        start = random.randrange(len(even)) if even else 0  # not predictable across restarts
        self._free: deque[int] = deque(even[start:] + even[:start])
        self._in_use: set[int] = set()
        self.size = len(even)

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    def take(self) -> int | None:
        """A free even port (its odd neighbour is RTCP's), or None when all are in use."""
        if not self._free:
            return None
        port = self._free.popleft()
        self._in_use.add(port)
        return port

    def give_back(self, port: int) -> None:
        """Return a port: a closed session's, or one whose bind failed (tried again last)."""
        if port in self._in_use:
            self._in_use.discard(port)
            self._free.append(port)


_POOLS: dict[tuple[str, int, int], PortPool] = {}


def port_pool(host: str, ports: range, shard: tuple[int, int] = (0, 1)) -> PortPool:
    """The process-wide pool for ``ports`` on ``host`` (ports are the machine's, not a call's);
    a media worker's pool is its ``shard`` of the range, so workers never race for a port."""
    key = (host, ports.start, ports.stop)
    pool = _POOLS.get(key)
    if pool is None:
        pool = _POOLS[key] = PortPool(ports, shard)
    return pool


async def open_session(
    host: str,
    ports: range | None,
    codec: Codec,
    event_pt: int | None,
    remote: tuple[str, int],
    on_digit: Callable[[str], None],
    clock: MediaClock,
    *,
    rtcp_interval_s: float = RTCP_INTERVAL_S,
) -> RtpSession:
    """Bind a session (``bind_session``) and ``attach`` it to ``clock``."""
    session, sockets = bind_session(host, ports, codec, event_pt, remote, on_digit,
                                    rtcp_interval_s=rtcp_interval_s)
    try:
        await attach(session, sockets, clock)
    except BaseException:
        session.close()  # gives the port back
        raise
    return session


def bind_session(
    host: str,
    ports: range | None,
    codec: Codec,
    event_pt: int | None,
    remote: tuple[str, int],
    on_digit: Callable[[str], None],
    *,
    rtcp_interval_s: float = RTCP_INTERVAL_S,
    shard: tuple[int, int] = (0, 1),
) -> tuple[RtpSession, tuple[socket.socket, socket.socket]]:
    """A session bound on a free even port in ``ports`` (any port when None) and its RTCP
    socket on the next port (RFC 3550 11), without waiting on the event loop (a media worker
    answers at once however busy its loop is); ``attach`` hands them to a clock. Ports
    come from the range's ``PortPool``; closing the session gives its port back. At most
    ``MAX_BIND_TRIES`` binds are tried per call; OSError when none succeeds."""
    pool = None if ports is None else port_pool(host, ports, shard)
    for _ in range(MAX_BIND_TRIES if pool is None else min(MAX_BIND_TRIES, pool.size)):
        port = 0
        if pool is not None:
            taken = pool.take()
            if taken is None:
                break
            port = taken
        pair = _bind_pair(host, port)
        if pair is None:
            if pool is not None:
                pool.give_back(port)
            continue
        session = RtpSession(codec, event_pt, remote, on_digit)
        session.local_port = pair[0].getsockname()[1]
        session.rtcp = RtcpSession(session, rtcp_interval_s, f"cti@{session.ssrc:08x}")
        session.unattached = pair
        if pool is not None:
            session.on_close = functools.partial(pool.give_back, port)
        return session, pair
    if pool is None:
        raise OSError("no free RTP/RTCP port pair")
    raise OSError(f"no free RTP/RTCP port pair in {ports} ({pool.in_use} of {pool.size} in use)")


async def attach(session: RtpSession, sockets: tuple[socket.socket, socket.socket],
                 clock: MediaClock) -> None:
    """Give a bound session's RTP socket to ``clock`` (which reads it and sends on it) and put
    its RTCP socket on the running loop; closes them instead if the session was closed
    meanwhile."""
    loop = asyncio.get_running_loop()
    rtp, rtcp = sockets
    reports = session.rtcp
    if session.closed or reports is None:  # closed before it was attached: close() closed them
        return
    clock.watch(session, rtp)  # raises before it takes the socket: close() still closes both
    session.unattached = None  # from here ``close()`` closes the RTP socket through the clock
    try:
        await loop.create_datagram_endpoint(lambda: reports, sock=rtcp)
    except OSError:  # (cancelled: asyncio closes the transport, and so the socket, itself)
        rtcp.close()
        raise
    if session.closed:  # closed while RTCP was being attached: its transport came after
        reports.close()


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket] | None:
    """RTP on ``port`` (0: any, must come out even) and RTCP on the next; None if either fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    rtp = socket.socket(family, socket.SOCK_DGRAM)
    try:
        rtp.setblocking(False)
        rtp.bind((host, port))
        bound = rtp.getsockname()[1]
        if bound % 2 or bound >= 65535:
            rtp.close()
            return None
        rtcp = socket.socket(family, socket.SOCK_DGRAM)
    except OSError:
        rtp.close()
        return None
    try:
        rtcp.setblocking(False)
        rtcp.bind((host, bound + 1))
    except OSError:
        rtp.close()
        rtcp.close()
        return None
    return rtp, rtcp
