"""The RTP receive path: the clock reads every leg's socket once per round, so a flooded leg
cannot hold up another leg's digit, and hostile datagrams are dropped without harm."""

from __future__ import annotations

import asyncio
import socket
import struct

from peers import wait_until

from cti.sip.media.rtp import MAX_READS, MediaClock, RtpSession, open_session
from cti.sip.sdp import Codec

EVENT_PT = 101


def rtp(pt: int, seq: int, payload: bytes, ssrc: int = 0x5EED) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, seq * 160, ssrc) + payload


async def test_a_flooded_leg_does_not_hold_up_another_legs_digit() -> None:
    clock = MediaClock()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    digits: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    legs: list[RtpSession] = []
    try:
        for _ in range(2):
            legs.append(await open_session("127.0.0.1", None, Codec.PCMU, EVENT_PT,
                                           peer.getsockname(), lambda _d: None, clock,
                                           rtcp_interval_s=3600))
        flooded, other = legs
        other.on_digit = lambda d: digits.put_nowait((d, flooded.packets_in))
        for seq in range(150):  # queued in the kernel before the next tick reads anything
            peer.sendto(rtp(0, seq, b"\xff" * 160), ("127.0.0.1", flooded.local_port))
        for hostile in (b"\x00" * 5, b"\xc0" + b"\xff" * 40, b""):  # short, version 3, empty
            peer.sendto(hostile, ("127.0.0.1", other.local_port))
        peer.sendto(rtp(EVENT_PT, 1, bytes([5, 0x0A, 0, 160])), ("127.0.0.1", other.local_port))
        digit, flooded_read = await asyncio.wait_for(digits.get(), 5)
        assert digit == "5"
        # the digit came in the first tick, while the flooded leg had had at most one round each
        assert 1 <= flooded_read <= MAX_READS
        assert other.packets_in == 1  # the hostile datagrams were read and dropped, not counted
        # the flood is read at MAX_READS per tick, never all at once, and the clock goes on
        await wait_until(lambda: flooded.packets_in >= 2 * MAX_READS)
        assert clock.receiving() == 2
    finally:
        for leg in legs:
            leg.close()
        peer.close()
        assert clock.receiving() == 0
        clock.close()


async def test_a_closed_leg_is_no_longer_read_and_its_port_is_free() -> None:
    clock = MediaClock()
    session = await open_session("127.0.0.1", None, Codec.PCMU, None, ("127.0.0.1", 9),
                                 lambda _d: None, clock, rtcp_interval_s=3600)
    port = session.local_port
    session.close()
    assert clock.receiving() == 0 and session.sock is None
    again = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        again.bind(("127.0.0.1", port))  # the descriptor is closed, not only unregistered
    finally:
        again.close()
        clock.close()
