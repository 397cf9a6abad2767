"""re-INVITE and UPDATE on both legs: media changes, hold/unhold, stable o=, one m-line per stream."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable

from peers import wait_until
from test_transactions import HOST, Phone, answering, established

from cti.sip import message as sipmsg
from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallAnswered, CallEvent, CallOffered, OperatorConnected
from cti.sip.session import parse_streams

MakeDoor = Callable[..., object]


def sdp(port: int, pts: str = "0", direction: str = "", extra: str = "",
        address: str = HOST, version: int = 2) -> bytes:
    ip = "IP6" if ":" in address else "IP4"
    text = (f"v=0\r\no=x 1 {version} IN {ip} {address}\r\ns=-\r\nc=IN {ip} {address}\r\n"
            f"t=0 0\r\nm=audio {port} RTP/AVP {pts}\r\n")
    if direction:
        text += f"a={direction}\r\n"
    return text.encode() + extra.encode()


class RtpSink:
    """A UDP socket that collects RTP headers (payload type, marker) sent to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]

    def packets(self, count: int, timeout: float = 3.0) -> list[tuple[int, bool]]:
        """The next ``count`` packets' (payload type, marker); fewer if none come in time."""
        self.sock.settimeout(timeout)
        out = []
        try:
            while len(out) < count:
                data = self.sock.recv(2048)
                out.append((data[1] & 0x7F, bool(data[1] & 0x80)))
        except TimeoutError:
            pass
        return out

    def drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(2048)
        except BlockingIOError:
            pass

    def close(self) -> None:
        self.sock.close()


def origin(body: bytes) -> tuple[str, int]:
    line = next(x for x in body.decode().splitlines() if x.startswith("o="))
    parts = line.split()
    return parts[1], int(parts[2])


async def test_caller_reinvite_moves_port_changes_codec_and_holds(make_door: MakeDoor) -> None:
    door, rec = await make_door(answering)  # type: ignore[misc]
    phone, tag = await established(door)
    sink = RtpSink()
    try:
        await rec.wait_for(lambda e: isinstance(e, CallAnswered))
        first = door.calls[phone.call_id].sdp.session_id
        # new port, PCMA only: audio moves there, labelled PCMA, and the answer has no 101
        phone.request("INVITE", cseq=11, to_tag=tag, body=sdp(sink.port, "8"))
        ok = await asyncio.to_thread(phone.expect, 200, "INVITE")
        phone.request("ACK", cseq=11, to_tag=tag)
        answer = parse_streams(ok.body)
        assert [(s.media, s.fmts, s.direction) for s in answer] == [("audio", ("8",), "sendrecv")]
        sid, version = origin(ok.body)
        assert int(sid) == first and version == 1
        got = await asyncio.to_thread(sink.packets, 20)
        assert len(got) == 20 and {pt for pt, _ in got} == {8}
        # hold: we answer recvonly and send nothing more
        phone.request("INVITE", cseq=12, to_tag=tag, body=sdp(sink.port, "8", "sendonly"))
        held = await asyncio.to_thread(phone.expect, 200, "INVITE")
        phone.request("ACK", cseq=12, to_tag=tag)
        assert parse_streams(held.body)[0].direction == "recvonly"
        assert origin(held.body) == (sid, 2)
        await asyncio.sleep(0.1)  # let packets already in flight land before draining
        sink.drain()
        assert await asyncio.to_thread(sink.packets, 1, 0.5) == []
        # resume: audio again, the first packet of the talkspurt has the marker bit
        phone.request("INVITE", cseq=13, to_tag=tag, body=sdp(sink.port, "8 0"))
        resumed = await asyncio.to_thread(phone.expect, 200, "INVITE")
        phone.request("ACK", cseq=13, to_tag=tag)
        assert origin(resumed.body) == (sid, 3)
        got = await asyncio.to_thread(sink.packets, 5)
        assert len(got) == 5 and got[0][1] and not any(m for _, m in got[1:])
        # the same offer again: same version (nothing changed)
        phone.request("UPDATE", cseq=14, to_tag=tag, body=sdp(sink.port, "8 0"))
        same = await asyncio.to_thread(phone.expect, 200, "UPDATE")
        assert origin(same.body) == (sid, 3)
    finally:
        sink.close()
        phone.close()


async def test_one_m_line_per_offered_stream_and_ipv6_refused(make_door: MakeDoor) -> None:
    door, _ = await make_door(answering)  # type: ignore[misc]
    phone = Phone(door.local[1])
    try:
        video = "m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        phone.request("INVITE", cseq=1, body=sdp(40000, "0 101", extra=video))
        ok = await asyncio.to_thread(phone.expect, 200, "INVITE")
        phone.request("ACK", cseq=1, to_tag=ok.to_tag)
        streams = parse_streams(ok.body)
        assert [(s.media, s.port == 0) for s in streams] == [("audio", False), ("video", True)]
        # an IPv6 re-offer on this IPv4 service: 488, the call goes on unchanged
        phone.request("INVITE", cseq=2, to_tag=ok.to_tag, body=sdp(40000, address="::1"))
        refused = await asyncio.to_thread(phone.expect, 488, "INVITE")
        assert "Incompatible" in refused.get("warning") or "IPv6" in refused.get("warning")
        phone.request("ACK", cseq=2, to_tag=ok.to_tag)
        assert phone.call_id in door.calls
        # an offerless re-INVITE: our offer in the 200, the answer in the ACK
        phone.request("INVITE", cseq=3, to_tag=ok.to_tag)
        offer = await asyncio.to_thread(phone.expect, 200, "INVITE")
        assert parse_streams(offer.body)[0].media == "audio"
        phone.request("ACK", cseq=3, to_tag=ok.to_tag, body=sdp(40010, "0"))
        media = door.calls[phone.call_id].media
        assert media is not None

        await wait_until(lambda: media.remote == (HOST, 40010), 3)
    finally:
        phone.close()


class OperatorPhone(Phone):
    """A raw UAS that answers the door's INVITE, then holds/resumes with re-INVITEs."""

    def answer_invite(self) -> sipmsg.SipMessage:
        self.sock.settimeout(5)
        while True:
            invite = sipmsg.parse(self.sock.recv(65535))
            if invite.method == "INVITE":
                break
        self.tag = "op" + uuid.uuid4().hex[:8]
        self.invite = invite
        self.media = RtpSink()
        headers = sipmsg.build_response(invite, 200, to_tag=self.tag, extra=[
            ("Contact", f"<sip:201@{HOST}:{self.port}>"), ("Content-Type", "application/sdp")],
            body=sdp(self.media.port, "0"))
        self.sock.sendto(headers, (HOST, self.door))
        return invite

    def reinvite(self, cseq: int, direction: str) -> sipmsg.SipMessage:
        inv = self.invite
        lines = [
            f"INVITE {sipmsg.header_uri(inv.get('contact'))} SIP/2.0",
            f"Via: SIP/2.0/UDP {HOST}:{self.port};branch=z9hG4bK{uuid.uuid4().hex}",
            "Max-Forwards: 70",
            f"From: {inv.get('to')};tag={self.tag}",
            f"To: {inv.get('from')}",
            f"Call-ID: {inv.call_id}",
            f"CSeq: {cseq} INVITE",
            f"Contact: <sip:201@{HOST}:{self.port}>",
            "Content-Type: application/sdp",
        ]
        body = sdp(self.media.port, "0", direction, version=cseq)
        data = ("\r\n".join([*lines, f"Content-Length: {len(body)}"]) + "\r\n\r\n").encode()
        self.sock.sendto(data + body, (HOST, self.door))
        ok = self.expect(200, "INVITE")
        ack = data.replace(b"INVITE sip", b"ACK sip", 1).replace(
            f"{cseq} INVITE".encode(), f"{cseq} ACK".encode()).split(b"Content-Type")[0]
        self.sock.sendto(ack + b"Content-Length: 0\r\n\r\n", (HOST, self.door))
        return ok


async def test_operator_hold_plays_hold_tone_to_the_caller_and_resume_rebridges(
    make_door: MakeDoor,
) -> None:
    operator = OperatorPhone(0)

    def handler(door: SipFrontDoor, event: CallEvent) -> object:
        async def go() -> None:
            if isinstance(event, CallOffered):
                await door.answer(event.call_id)
                await door.connect_to_operator(event.call_id, f"sip:201@{HOST}:{operator.port}", 5)

        return go()

    door, rec = await make_door(handler)  # type: ignore[misc]
    operator.door = door.local[1]
    phone, _tag = await established(door)
    try:
        await asyncio.to_thread(operator.answer_invite)
        connected = await rec.wait_for(lambda e: isinstance(e, OperatorConnected))
        call = door.calls[connected.call_id]
        assert call.media is not None and call.operator is not None
        leg_media = call.operator.media
        assert call.media.peer is leg_media
        held = await asyncio.to_thread(operator.reinvite, 2, "sendonly")
        assert parse_streams(held.body)[0].direction == "recvonly"
        assert call.media.peer is None and call.media.player is not None
        assert call.media.player.name == "tone:hold"
        assert leg_media is not None and not leg_media.send_enabled
        resumed = await asyncio.to_thread(operator.reinvite, 3, "sendrecv")
        assert parse_streams(resumed.body)[0].direction == "sendrecv"
        assert call.media.peer is leg_media and leg_media.send_enabled
        # a BYE from the operator's phone with the right tags still ends the call
        assert connected.call_id in door.calls
    finally:
        phone.close()
        operator.media.close()
        operator.close()


async def test_rtcp_sender_reports_with_a_report_block_and_cname(make_door: MakeDoor) -> None:
    door, _ = await make_door(answering, rtcp_interval_s=0.2)  # type: ignore[misc]
    media, rtcp = RtpSink(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone = Phone(door.local[1])
    try:
        rtcp.bind((HOST, media.port + 1))
        phone.request("INVITE", cseq=1, body=sdp(media.port, "0"))
        ok = await asyncio.to_thread(phone.expect, 200, "INVITE")
        phone.request("ACK", cseq=1, to_tag=ok.to_tag)
        ours = parse_streams(ok.body)[0].port
        for seq in range(10):  # we talk too, so the report has a block about us
            media.sock.sendto(bytes([0x80, 0]) + seq.to_bytes(2, "big") + bytes(8) + b"\xff" * 160,
                              (HOST, ours))
        rtcp.settimeout(3)

        def report_with_block() -> bytes:
            while True:
                data = rtcp.recv(2048)
                if data[0] & 0x1F:
                    return data

        data = await asyncio.to_thread(report_with_block)
        assert data[1] == 200  # SR: we are sending
        ssrc = int.from_bytes(data[4:8], "big")
        call = door.calls[phone.call_id]
        assert call.media is not None and ssrc == call.media.ssrc
        assert int.from_bytes(data[20:24], "big") > 0  # sender's packet count
        block_ssrc = int.from_bytes(data[28:32], "big")
        assert block_ssrc == 0  # the SSRC our RTP packets carried
        sr_len = (int.from_bytes(data[2:4], "big") + 1) * 4
        assert data[sr_len + 1] == 202 and b"cti@" in data[sr_len:]  # SDES CNAME follows
    finally:
        rtcp.close()
        media.close()
        phone.close()
