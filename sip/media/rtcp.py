"""RTCP (RFC 3550 6) for one RTP leg: a compound SR (or RR while we send nothing) + SDES CNAME
every ``interval`` seconds to the peer's RTP port + 1, and the peer's SRs read for LSR/DLSR.

The socket is the RTP port + 1 (``rtp.open_session`` binds both). Reception statistics come
from the leg's ``RtpSession`` (its sequence state, kept per packet by the media core, and
``ReceptionStats``).
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import structlog

if TYPE_CHECKING:
    from cti.sip.media.rtp import RtpSession

log = structlog.get_logger("cti.sip.media.rtcp")
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 to 1970
SR, RR, SDES = 200, 201, 202


@dataclass(slots=True)
class ReceptionStats:
    """RFC 3550 A.3: what our receiver reports say of the peer's SSRC. The sequence state
    (A.1: base, highest, cycles, received) is the leg's, kept by the media core per packet;
    this keeps what only reports need."""

    ssrc: int | None = None  # the SSRC the priors below are for
    expected_prior: int = 0
    received_prior: int = 0
    last_sr: int = 0  # middle 32 bits of the NTP time of the peer's last SR
    last_sr_at: float = 0.0  # our monotonic time when it arrived

    def report_block(self, leg: RtpSession, now: float) -> bytes:
        """The report block on what ``leg`` received, b"" while it received nothing."""
        ssrc = leg.rx_ssrc
        if ssrc is None:
            return b""
        if ssrc != self.ssrc:  # a new source: its own counts from its first packet
            self.ssrc, self.expected_prior, self.received_prior = ssrc, 0, 0
        extended = leg.rx_cycles + leg.rx_max_seq
        expected = extended - leg.rx_base_seq + 1
        received = leg.rx_received
        lost = max(0, min(expected - received, 0x7FFFFF))
        interval_expected = expected - self.expected_prior
        interval_lost = interval_expected - (received - self.received_prior)
        self.expected_prior, self.received_prior = expected, received
        fraction = (interval_lost << 8) // interval_expected if interval_expected > 0 and \
            interval_lost > 0 else 0
        dlsr = int((now - self.last_sr_at) * 65536) if self.last_sr else 0
        return struct.pack("!IB3sIIII", ssrc, min(fraction, 255), lost.to_bytes(3, "big"),
                           extended & 0xFFFFFFFF, 0, self.last_sr, dlsr & 0xFFFFFFFF)


def compound(rtp: RtpSession, stats: ReceptionStats, cname: str, now: float,
             wall: float) -> bytes:
    """SR (we are sending) or RR, then SDES with our CNAME."""
    blocks = stats.report_block(rtp, now)
    count = 1 if blocks else 0
    if rtp.send_enabled and rtp.packets_out:
        ntp = wall + NTP_EPOCH_OFFSET
        sec, frac = int(ntp), int((ntp % 1) * 2**32) & 0xFFFFFFFF
        body = struct.pack("!IIIIII", rtp.ssrc, sec, frac, rtp.ts, rtp.packets_out & 0xFFFFFFFF,
                           rtp.octets_out & 0xFFFFFFFF) + blocks
        head = struct.pack("!BBH", 0x80 | count, SR, len(body) // 4)
    else:
        body = struct.pack("!I", rtp.ssrc) + blocks
        head = struct.pack("!BBH", 0x80 | count, RR, len(body) // 4)
    item = bytes([1, len(cname)]) + cname.encode()
    chunk = struct.pack("!I", rtp.ssrc) + item + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    sdes = struct.pack("!BBH", 0x81, SDES, len(chunk) // 4) + chunk
    return head + body + sdes


class RtcpSession(asyncio.DatagramProtocol):
    def __init__(self, rtp: RtpSession, interval: float, cname: str) -> None:
        self.rtp = rtp
        self.interval = interval
        self.cname = cname[:255]
        self.transport: asyncio.DatagramTransport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.sent = 0
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.timer = asyncio.get_running_loop().call_later(self.interval, self._report)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 20 and data[0] >> 6 == 2 and data[1] == SR:
            self.received += 1
            stats = self.rtp.stats
            stats.last_sr = int.from_bytes(data[10:14], "big")
            stats.last_sr_at = asyncio.get_running_loop().time()

    def error_received(self, exc: Exception) -> None:
        log.debug("sip.rtcp.error", error=str(exc))

    def _report(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        loop = asyncio.get_running_loop()
        host, port = self.rtp.remote
        if 0 < port < 65535:
            packet = compound(self.rtp, self.rtp.stats, self.cname, loop.time(), time.time())
            transport.sendto(packet, (host, port + 1))
            self.sent += 1
        self.timer = loop.call_later(self.interval, self._report)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            self.transport.close()
