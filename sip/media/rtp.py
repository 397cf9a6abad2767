"""RTP media on the asyncio loop: one socket per call leg, one shared drift-free clock.

Replaces pyVoIP's ``RTPClient`` (two threads per call, ``sleep(0.02)`` pacing):

- Defect 10: pyVoIP paces with ``sleep(0.02)`` and never catches up (~49.5 packets/s), so a
  relay's backlog grows without bound. ``MediaClock`` ticks on an absolute 20 ms grid
  (``loop.call_at(t0 + k * 0.02)``): a late tick sends the frames it owes (at most
  ``MAX_CATCH_UP``), so the long-run rate is exactly 50 packets/s. A bridged leg's outbound
  queue holds at most ``BRIDGE_QUEUE_FRAMES`` (100 ms); older frames are dropped.
- Defect 4: no threads per call; ``RtpSession.close()`` closes the socket and unregisters
  the session from the clock, so nothing outlives the call.
- Receiving is the clock's too: every RTP socket is in the clock's own ``epoll`` set, and each
  tick reads what has arrived on all of them (``MAX_READS`` rounds of one ``epoll_wait`` each)
  before it sends. The process wakes once per tick, not once per packet: at 1,000 legs a
  quarter to a third less CPU than an asyncio endpoint per socket (``bench/bench_media.py``,
  ``sip/README.md``), and a relayed frame goes out in the tick that read it.
- Defect 9: audio is encoded with the negotiated codec (see ``audio.encode``).
- DTMF (RFC 4733): pyVoIP reports a digit only for the packet with the marker bit; a lost
  first packet loses the digit. Here a new event is recognised by its RTP timestamp and
  reported once, whichever of its packets arrives first.
"""

from __future__ import annotations

import asyncio
import functools
import random
import select
import socket
import struct
import time
from collections import deque
from collections.abc import Callable

import structlog

from cti.sip.audio import Player, transcode
from cti.sip.media.leg import MediaLeg
from cti.sip.media.rtcp import ReceptionStats, RtcpSession
from cti.sip.sdp import Codec

log = structlog.get_logger("cti.sip.media.rtp")

FRAME_S = 0.020
MAX_CATCH_UP = 3
MAX_BIND_TRIES = 32  # binds tried per session before giving up (ports taken by other programs)
RTCP_INTERVAL_S = 5.0  # RFC 3550 6.2 minimum interval
BRIDGE_QUEUE_FRAMES = 5
MAX_READS = 4  # packets read per socket and tick: a 10 ms ptime peer sends 2 (a flood: dropped)
MAX_DATAGRAM = 2048
DTMF_KEYS = "0123456789*#ABCD"
_HEADER = struct.Struct("!BBHII")
_pack = _HEADER.pack
_unpack = _HEADER.unpack_from
_monotonic = time.monotonic
SILENCE = {Codec.PCMU: b"\xff" * 160, Codec.PCMA: b"\xd5" * 160}


class RtpSession:
    """One call leg's RTP: receive (audio, DTMF) and paced send, both driven by a
    ``MediaClock``."""

    def __init__(
        self,
        codec: Codec,
        event_pt: int | None,
        remote: tuple[str, int],
        on_digit: Callable[[str], None],
    ) -> None:
        self.codec = codec
        self.event_pt = event_pt
        self.remote = remote
        self.on_digit = on_digit
        self.sock: socket.socket | None = None  # the RTP socket, once ``attach`` gave it a clock
        self.clock: MediaClock | None = None  # which reads it
        self.local_port = 0
        self.player: Player | None = None
        self.peer: RtpSession | None = None  # bridged leg: our received audio goes there
        self.queue: deque[bytes] = deque(maxlen=BRIDGE_QUEUE_FRAMES)
        self.last_k = -1
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)
        self.packets_in = 0
        self.packets_out = 0
        self.last_rx: float | None = None
        self.send_enabled = True  # False while the peer holds us (sendonly/inactive offer)
        self.remote_direction = "sendrecv"  # what the peer last offered or answered
        self._talkspurt = True  # the next packet sent starts a talkspurt: marker bit (RFC 3551)
        self.octets_out = 0
        self.stats = ReceptionStats()  # for RTCP receiver reports
        self.rtcp: RtcpSession | None = None
        self._last_event: tuple[int, int, int] | None = None  # (ssrc, timestamp, event)
        self._last_event_ended = False
        self.on_close: Callable[[], None] | None = None  # gives the port back to its pool
        self.unattached: tuple[socket.socket, socket.socket] | None = None  # bound, not attached
        # The socket's own sendto: a frame that cannot go now is dropped, not queued (late
        # audio is worse than lost audio), and it is 11 % cheaper than a transport's.
        self._sendto: Callable[[bytes, tuple[str, int]], int] | None = None
        self.send_errors = 0
        self.receive_errors = 0
        self.closed = False

    # -- receiving ---------------------------------------------------------------------------
    def packet(self, data: bytes, now: float) -> None:
        """One datagram read from our socket at ``now`` (``time.monotonic()``)."""
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        first, second, seq, ts, ssrc = _unpack(data)
        self.packets_in += 1
        self.stats.packet(ssrc, seq)
        self.last_rx = now
        pt = second & 0x7F
        event = pt == self.event_pt and self.event_pt is not None
        if not event and self.peer is None:
            return  # audio nobody hears (a caller in the IVR or on hold): counted, not copied
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:  # header extension
            if len(data) < offset + 4:
                return
            offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
        end = len(data)
        if first & 0x20 and end > offset:  # padding
            end -= data[-1]
        payload = data[offset:end]
        if event:
            self._telephone_event(payload, ssrc, ts, bool(second & 0x80))
        elif pt == int(self.codec) or pt in (0, 8):
            peer = self.peer
            if peer is not None and payload:
                peer.queue.append(transcode(payload, Codec(pt), peer.codec))

    # -- DTMF -------------------------------------------------------------------------------
    def _telephone_event(self, payload: bytes, ssrc: int, ts: int, marker: bool) -> None:
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

    # -- sending ----------------------------------------------------------------------------
    def send_frame(self) -> None:
        # The hottest code of the media plane: 50 times a second per leg.
        if self.peer is not None:
            queue = self.queue
            payload = queue.popleft() if queue else SILENCE[self.codec]
        elif self.player is not None:
            frame = self.player.next_frame()
            if frame is None:
                self.player = None
                payload = SILENCE[self.codec]
            else:
                payload = frame
        else:
            payload = SILENCE[self.codec]
        sendto = self._sendto
        if sendto is None or self.closed:
            return
        size = len(payload)
        if not self.send_enabled:  # held: nothing on the wire, the clock still runs
            self.ts = (self.ts + size) & 0xFFFFFFFF
            self._talkspurt = True
            return
        if self._talkspurt:
            second = int(self.codec) | 0x80
            self._talkspurt = False
        else:
            second = int(self.codec)
        seq, ts = self.seq, self.ts
        self.seq = (seq + 1) & 0xFFFF
        self.ts = (ts + size) & 0xFFFFFFFF
        try:
            sendto(_pack(0x80, second, seq, ts, self.ssrc) + payload, self.remote)
        except OSError as exc:  # a lost frame, never a closed socket: counted, first one logged
            self.send_errors += 1
            if self.send_errors == 1:
                log.warning("sip.rtp.send_error", port=self.local_port, error=str(exc)[:200])
            return
        self.packets_out += 1
        self.octets_out += size

    def bridge_to(self, other: MediaLeg) -> None:
        assert isinstance(other, RtpSession), "both legs of a bridge live in one process"
        self.player = other.player = None
        self.queue.clear()
        other.queue.clear()
        self.peer, other.peer = other, self

    def unbridge_from(self, other: MediaLeg) -> None:
        assert isinstance(other, RtpSession), "both legs of a bridge live in one process"
        if self.peer is other:
            self.peer = other.peer = None
        self.queue.clear()
        other.queue.clear()
        self._talkspurt = other._talkspurt = True

    def close(self) -> None:
        self.player = None
        if self.rtcp is not None:
            self.rtcp.close()
            self.rtcp = None
        if self.peer is not None:
            self.peer.peer = None
            self.peer = None
        self.closed = True
        if self.unattached is not None:  # bound, never attached
            for sock in self.unattached:
                sock.close()
            self.unattached = None
        if self.sock is not None:
            if self.clock is not None:
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


class MediaClock:
    """One timer for all sessions, on an absolute 20 ms grid (defect 10): each tick reads what
    every watched socket received, then sends the frames the sending sessions owe."""

    def __init__(self) -> None:
        self.sessions: set[RtpSession] = set()  # sending (after the answer)
        # receiving, by descriptor: the session and its socket's recv
        self._watched: dict[int, tuple[RtpSession, Callable[[int], bytes]]] = {}
        self._epoll = select.epoll()
        self._handle: asyncio.TimerHandle | None = None
        self._t0 = 0.0
        self.late_ticks = 0
        self.frames_sent = 0

    def _start(self) -> None:
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._t0 = loop.time()
            self._handle = loop.call_at(self._t0 + FRAME_S, self._tick)

    def _stop_if_idle(self) -> None:
        if not self.sessions and not self._watched and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def add(self, session: RtpSession) -> None:
        """Start sending ``session``'s frames."""
        self._start()
        session.last_k = int((asyncio.get_running_loop().time() - self._t0) / FRAME_S)
        self.sessions.add(session)

    def remove(self, session: RtpSession) -> None:
        self.sessions.discard(session)
        self._stop_if_idle()

    def watch(self, session: RtpSession, sock: socket.socket) -> None:
        """Read ``sock`` (the session's RTP socket) on every tick until ``unwatch``."""
        fd = sock.fileno()
        self._epoll.register(fd, select.EPOLLIN)
        self._watched[fd] = (session, sock.recv)
        session.sock, session.clock = sock, self
        self._start()

    def unwatch(self, session: RtpSession) -> None:
        """Stop reading the session's socket (before it is closed)."""
        sock = session.sock
        fd = -1 if sock is None else sock.fileno()
        if self._watched.get(fd, (None,))[0] is session:
            del self._watched[fd]
            self._epoll.unregister(fd)
        self._stop_if_idle()

    def receiving(self) -> int:
        """How many sockets this clock reads."""
        return len(self._watched)

    def close(self) -> None:
        self._epoll.close()

    def _receive(self) -> None:
        watched = self._watched
        if not watched:
            return
        poll, now = self._epoll.poll, _monotonic()
        for _ in range(MAX_READS):
            ready = poll(0, len(watched) + 1)
            if not ready:
                return
            for fd, _events in ready:
                reader = watched.get(fd)
                if reader is None:  # unwatched by a callback of this tick
                    continue
                session, recv = reader
                try:
                    data = recv(MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:  # an ICMP error of an earlier send, reported here
                    session.receive_errors += 1
                    if session.receive_errors == 1:
                        log.debug("sip.rtp.receive_error", port=session.local_port,
                                  error=str(exc)[:200])
                    continue
                try:
                    session.packet(data, now)
                except Exception:  # hostile media must not break the clock or the call
                    log.exception("sip.rtp.bad_packet", port=session.local_port, size=len(data))

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._receive()
        finally:
            k = int((loop.time() - self._t0) / FRAME_S)
            self._handle = loop.call_at(self._t0 + (k + 1) * FRAME_S, self._tick)
        self._send(k)
        self._stop_if_idle()

    def _send(self, k: int) -> None:
        sent = 0
        for session in list(self.sessions):
            owed = k - session.last_k
            if owed <= 0:  # added during this tick
                continue
            session.last_k = k
            if owed > MAX_CATCH_UP:
                self.late_ticks += 1
                owed = MAX_CATCH_UP
            try:
                session.send_frame()  # the usual case: one frame owed
                sent += 1
                for _ in range(owed - 1):
                    session.send_frame()
                    sent += 1
            except Exception:  # one broken leg must not stop the others' audio
                log.exception("sip.rtp.send_failed", port=session.local_port)
                self.sessions.discard(session)
        self.frames_sent += sent


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
    session._sendto = rtp.sendto
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
