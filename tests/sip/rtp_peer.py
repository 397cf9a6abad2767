"""A minimal RTP endpoint for tests: sends a paced tone, records what it receives."""

from __future__ import annotations

import asyncio
import audioop
import math
import socket
import struct
from dataclasses import dataclass, field

from peers import HOST, free_udp_port

RATE = 8000


def tone_frames(freq: float, codec_pt: int, amplitude: float = 0.3) -> list[bytes]:
    """One second of a sine as 50 encoded 20 ms frames."""
    pcm = b"".join(
        int(amplitude * 32767 * math.sin(2 * math.pi * freq * i / RATE)).to_bytes(2, "little",
                                                                                   signed=True)
        for i in range(RATE)
    )
    enc = audioop.lin2alaw(pcm, 2) if codec_pt == 8 else audioop.lin2ulaw(pcm, 2)
    return [enc[i : i + 160] for i in range(0, len(enc), 160)]


def decode(payload: bytes, pt: int) -> bytes:
    return audioop.alaw2lin(payload, 2) if pt == 8 else audioop.ulaw2lin(payload, 2)


def goertzel(pcm: bytes, freq: float) -> float:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    k = 2 * math.cos(2 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2


def has_tone(pcm: bytes, freq: float) -> bool:
    """The frame carries ``freq`` clearly above silence and above an unrelated frequency."""
    if audioop.rms(pcm, 2) < 500:
        return False
    return goertzel(pcm, freq) > 20 * goertzel(pcm, freq * 1.37)


@dataclass
class RtpPeer:
    pt: int
    freq: float
    port: int = field(default_factory=lambda: free_udp_port(even=True))
    received: list[tuple[float, int, bytes]] = field(default_factory=list)  # (t, pt, payload)
    silent_from: float | None = None  # loop time at which we switched to silence
    sent: int = 0

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, self.port))
        self.sock.setblocking(False)
        self._frames = tone_frames(self.freq, self.pt)
        self._silence = (b"\xd5" if self.pt == 8 else b"\xff") * 160

    async def receive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(self.sock, 2048)
            if len(data) > 12:
                self.received.append((loop.time(), data[1] & 0x7F, data[12:]))

    async def send(self, remote: tuple[str, int], seconds: float) -> None:
        """Send on an absolute 20 ms grid for ``seconds``; the last second is silence."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        n = int(seconds * 50)
        seq, ts = 1000, 5000
        for i in range(n):
            silent = i >= n - 50
            if silent and self.silent_from is None:
                self.silent_from = loop.time()
            payload = self._silence if silent else self._frames[i % 50]
            header = struct.pack("!BBHII", 0x80, self.pt, seq & 0xFFFF, ts, 0x1234)
            self.sock.sendto(header + payload, remote)
            self.sent += 1
            seq += 1
            ts += 160
            await asyncio.sleep(max(0.0, t0 + (i + 1) * 0.02 - loop.time()))

    def close(self) -> None:
        self.sock.close()
