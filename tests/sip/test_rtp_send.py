"""The RTP send path: a frame that cannot be sent is counted and dropped, the socket stays."""

from __future__ import annotations

import socket

from cti.sip.media.rtp import MediaClock, open_session
from cti.sip.sdp import Codec


async def test_a_send_error_drops_the_frame_and_keeps_the_socket() -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(5)
    clock = MediaClock()
    session = await open_session("127.0.0.1", None, Codec.PCMU, None, sink.getsockname(),
                                 lambda _d: None, clock, rtcp_interval_s=3600)
    try:
        session.remote = ("255.255.255.255", 9)  # broadcast without SO_BROADCAST: EACCES
        first = session.seq
        session.send_frame()
        assert (session.send_errors, session.packets_out) == (1, 0)
        assert session.sock is not None and session.sock.fileno() >= 0  # still open, still read
        assert clock.receiving() == 1
        session.remote = sink.getsockname()
        session.send_frame()
        assert session.packets_out == 1
        packet = sink.recv(2048)
        assert len(packet) == 12 + 160 and packet[1] & 0x7F == int(Codec.PCMU)
        # the lost frame still took its sequence number: the receiver sees the loss
        assert int.from_bytes(packet[2:4], "big") == (first + 1) & 0xFFFF
    finally:
        session.close()
        sink.close()
    assert clock.receiving() == 0
    clock.close()
