"""The RTP core in Python: the per-packet work of every leg, and the reference for ``_core.c``.

A ``Leg`` is one RTP socket's hot state (what goes into the header of the next frame, what
it plays, the leg it relays to, what it has received); an ``Engine`` reads every watched leg's
socket and sends the frames the sending legs owe, once per 20 ms tick. ``rtp.RtpSession``
subclasses ``Leg`` and ``rtp.MediaClock`` drives an ``Engine``.

``_core.c`` is the same core in C (the media plane's cost is half Python, half kernel: see
``sip/README.md``, Capacity); ``core.py`` picks it when it was built. Both keep to this file's
behaviour, which ``tests/sip/test_rtp_core.py`` checks against each. Nothing here calls back
into the call path: what needs Python (a DTMF event, a playlist that ended, a first send or
receive error) comes back from ``receive``/``send`` as a list of notes, ``None`` when empty.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import struct
from collections import deque
from typing import Any

from cti.sip.audio import FRAME_SAMPLES, transcode
from cti.sip.sdp import Codec

MAX_CATCH_UP = 3  # frames a late tick sends to catch up; beyond: counted late, dropped
MAX_READS = 4  # packets read per socket and tick: a 10 ms ptime peer sends 2 (a flood: dropped)
MAX_DATAGRAM = 2048
QUEUE_FRAMES = 5  # a bridged leg's outbound queue: 100 ms, older frames dropped
PCMU, PCMA = int(Codec.PCMU), int(Codec.PCMA)
_HEADER = struct.Struct("!BBHII")
_pack = _HEADER.pack
_unpack = _HEADER.unpack_from
SILENCE = {PCMU: b"\xff" * FRAME_SAMPLES, PCMA: b"\xd5" * FRAME_SAMPLES}

Note = tuple[Any, ...]  # ("event", leg, payload, ssrc, ts, marker) | ("finished", leg)
#                         | ("receive_error" | "send_error", leg, errno)


def sockaddr(remote: tuple[str, int]) -> tuple[str, int] | None:
    """The address frames go to, or None (every frame then counts as a send error): an IP
    address literal (SDP's ``c=`` was checked to be one) and a port 1..65535."""
    host, port = remote
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    if "%" in host:  # a scoped IPv6 address means nothing in SDP (and inet_pton refuses it)
        return None
    return (host, port) if isinstance(port, int) and 0 < port < 65536 else None


class Leg:
    """One RTP socket's hot state."""

    def __init__(self, pt: int, dtmf_pt: int, remote: tuple[str, int], ssrc: int, seq: int,
                 ts: int) -> None:
        self.pt = pt  # payload type we send (PCMU or PCMA)
        self.dtmf_pt = dtmf_pt  # RFC 4733 telephone-event payload type we receive, -1: none
        self.ssrc = ssrc & 0xFFFFFFFF
        self.seq = seq & 0xFFFF
        self.ts = ts & 0xFFFFFFFF
        self.send_enabled = True  # False while the peer holds us: the clock runs, nothing sent
        self._remote = remote
        self._addr = sockaddr(remote)
        self._talkspurt = True  # the next packet sent starts a talkspurt: marker bit (RFC 3551)
        self.packets_in = 0
        self.packets_out = 0
        self.octets_out = 0
        self.send_errors = 0
        self.receive_errors = 0
        self.last_rx: float | None = None
        # RFC 3550 A.1: the sequence state of the SSRC we receive (for receiver reports)
        self.rx_ssrc: int | None = None
        self.rx_base_seq = 0
        self.rx_max_seq = 0
        self.rx_cycles = 0
        self.rx_received = 0
        self.peer: Any = None  # the bridged leg: what we receive goes out on it
        self._queue: deque[bytes] = deque(maxlen=QUEUE_FRAMES)
        self._audio: bytes | None = None
        self._pos = 0
        self._loop = False
        self._sendto: Any = None  # the socket's sendto, while an engine watches it
        self._last_k = 0

    @property
    def remote(self) -> tuple[str, int]:
        return self._remote

    @remote.setter
    def remote(self, value: tuple[str, int]) -> None:
        self._remote = value
        self._addr = sockaddr(value)

    @property
    def playing(self) -> bool:
        return self._audio is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def play(self, audio: bytes, loop: bool) -> None:
        """Send ``audio`` (encoded, ``FRAME_SAMPLES`` a frame) from its start; at its end a
        ``("finished", leg)`` note, or again from the start when ``loop``."""
        self._audio, self._pos, self._loop = bytes(audio), 0, loop

    def stop(self) -> None:
        self._audio = None

    def bridge(self, other: Leg) -> None:
        """Relay what each leg receives to the other; playback on both stops."""
        self._audio = other._audio = None
        self._queue.clear()
        other._queue.clear()
        self.peer, other.peer = other, self

    def unbridge(self, other: Leg) -> None:
        if self.peer is other:
            self.peer = other.peer = None
        self._queue.clear()
        other._queue.clear()
        self._talkspurt = other._talkspurt = True

    def shut(self) -> None:
        """Nothing more is sent or relayed (the socket is about to close)."""
        self._audio = None
        if self.peer is not None:
            self.peer.peer = None
            self.peer = None
        self._sendto = None

    # -- per packet ---------------------------------------------------------------------------
    def _packet(self, data: bytes, now: float, notes: list[Note], tables: tuple[bytes, bytes]
                ) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        first, second, seq, ts, ssrc = _unpack(data)
        self.packets_in += 1
        if self.rx_ssrc != ssrc:
            self.rx_ssrc, self.rx_base_seq, self.rx_max_seq = ssrc, seq, seq
            self.rx_cycles = self.rx_received = 0
        elif 0 < (seq - self.rx_max_seq) & 0xFFFF < 0x8000:
            if seq < self.rx_max_seq:
                self.rx_cycles += 0x10000
            self.rx_max_seq = seq
        self.rx_received += 1
        self.last_rx = now
        pt = second & 0x7F
        event = pt == self.dtmf_pt >= 0
        if not event and self.peer is None:
            return  # audio nobody hears (a caller in the IVR or on hold): counted, not copied
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:  # header extension
            if len(data) < offset + 4:
                return
            offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
        end = len(data)
        if first & 0x20 and end > offset:  # padding (its count may claim more than there is)
            end = max(offset, end - data[-1])
        payload = data[offset:end]
        if event:
            notes.append(("event", self, payload, ssrc, ts, bool(second & 0x80)))
        elif pt == self.pt or pt in (PCMU, PCMA):
            peer = self.peer
            if peer is not None and payload:
                if pt != peer.pt:  # G.711 to G.711: a byte for a byte
                    payload = payload.translate(tables[0] if pt == PCMU else tables[1])
                peer._queue.append(payload)

    def _send(self, notes: list[Note]) -> None:
        # The hottest code of the media plane: 50 times a second per leg.
        if self.peer is not None:
            queue = self._queue
            payload = queue.popleft() if queue else SILENCE[self.pt]
        elif self._audio is not None:
            audio, pos = self._audio, self._pos
            if pos >= len(audio):
                if not self._loop or not audio:
                    self._audio = None
                    notes.append(("finished", self))
                    audio = b""
                pos = 0
            if audio:
                payload = audio[pos : pos + FRAME_SAMPLES]
                self._pos = pos + FRAME_SAMPLES
            else:
                payload = SILENCE[self.pt]
        else:
            payload = SILENCE[self.pt]
        sendto = self._sendto
        if sendto is None:
            return
        size = len(payload)
        if not self.send_enabled:  # held: nothing on the wire, the clock still runs
            self.ts = (self.ts + size) & 0xFFFFFFFF
            self._talkspurt = True
            return
        if self._talkspurt:
            second = self.pt | 0x80
            self._talkspurt = False
        else:
            second = self.pt
        seq, ts = self.seq, self.ts
        self.seq = (seq + 1) & 0xFFFF
        self.ts = (ts + size) & 0xFFFFFFFF
        addr = self._addr
        try:
            if addr is None:
                raise OSError(89, "no address to send to")  # EDESTADDRREQ
            sendto(_pack(0x80, second, seq, ts, self.ssrc) + payload, addr)
        except OSError as exc:  # a lost frame, never a closed socket: counted, first one noted
            self.send_errors += 1
            if self.send_errors == 1:
                notes.append(("send_error", self, exc.errno or 0))
            return
        self.packets_out += 1
        self.octets_out += size


def g711_tables() -> tuple[bytes, bytes]:
    """PCMU→PCMA and PCMA→PCMU, a byte for a byte (``audio.transcode`` of every byte)."""
    every = bytes(range(256))
    return transcode(every, Codec.PCMU, Codec.PCMA), transcode(every, Codec.PCMA, Codec.PCMU)


class Engine:
    """Reads every watched leg's socket and sends the frames the sending legs owe."""

    def __init__(self, tables: tuple[bytes, bytes]) -> None:
        self._tables = tables
        self._epoll = select.epoll()
        self._watched: dict[int, tuple[Leg, Any]] = {}  # by descriptor: the leg, its recv
        self._sending: dict[Leg, None] = {}
        self.late_ticks = 0
        self.frames_sent = 0

    @property
    def receiving(self) -> int:
        return len(self._watched)

    @property
    def sending(self) -> int:
        return len(self._sending)

    def watch(self, leg: Leg, sock: socket.socket) -> None:
        """Read ``sock`` (the leg's RTP socket) on every tick and send on it, until
        ``unwatch``."""
        fd = sock.fileno()
        self._epoll.register(fd, select.EPOLLIN)
        self._watched[fd] = (leg, sock.recv)
        leg._sendto = sock.sendto

    def unwatch(self, leg: Leg, fd: int) -> None:
        if self._watched.get(fd, (None,))[0] is leg:
            del self._watched[fd]
            self._epoll.unregister(fd)
        leg._sendto = None

    def add(self, leg: Leg, k: int) -> None:
        """Send ``leg``'s frames from tick ``k + 1`` on."""
        leg._last_k = k
        self._sending[leg] = None

    def remove(self, leg: Leg) -> None:
        self._sending.pop(leg, None)

    def close(self) -> None:
        self._epoll.close()

    def receive(self, now: float) -> list[Note] | None:
        watched = self._watched
        if not watched:
            return None
        notes: list[Note] = []
        poll, tables = self._epoll.poll, self._tables
        for _ in range(MAX_READS):
            ready = poll(0, len(watched) + 1)
            if not ready:
                break
            for fd, _events in ready:
                reader = watched.get(fd)
                if reader is None:
                    continue
                leg, recv = reader
                try:
                    data = recv(MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:  # an ICMP error of an earlier send, reported here
                    leg.receive_errors += 1
                    if leg.receive_errors == 1:
                        notes.append(("receive_error", leg, exc.errno or 0))
                    continue
                leg._packet(data, now, notes, tables)
        return notes or None

    def send(self, k: int) -> list[Note] | None:
        notes: list[Note] = []
        sent = 0
        for leg in self._sending:
            owed = k - leg._last_k
            if owed <= 0:  # added during this tick
                continue
            leg._last_k = k
            if owed > MAX_CATCH_UP:
                self.late_ticks += 1
                owed = MAX_CATCH_UP
            for _ in range(owed):
                leg._send(notes)
            sent += owed
        self.frames_sent += sent
        return notes or None
