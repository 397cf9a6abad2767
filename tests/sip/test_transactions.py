"""Transaction matching (RFC 3261 17.2.3), merged requests (8.2.2.2), dialogs (12.2.2), 8.2 checks."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable

from cti.sip import message as sipmsg
from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallAnswered, CallEnded, CallEvent, CallOffered

MakeDoor = Callable[..., object]
HOST = "127.0.0.1"
SDP = (b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 40000 RTP/AVP 0\r\n")


class Phone:
    """A raw UDP SIP peer on loopback: sends requests, reads responses, no SIP logic."""

    def __init__(self, door_port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.door = door_port
        self.call_id = f"{uuid.uuid4().hex}@example.invalid"

    def request(self, method: str, *, cseq: int, branch: str | None = None, to_tag: str = "",
                from_tag: str = "caller1", call_id: str | None = None, body: bytes = b"",
                extra: tuple[str, ...] = ()) -> bytes:
        lines = [
            f"{method} sip:helpdesk@{HOST}:{self.door} SIP/2.0",
            f"Via: SIP/2.0/UDP {HOST}:{self.port};branch={branch or 'z9hG4bK' + uuid.uuid4().hex}",
            "Max-Forwards: 70",
            f"From: <sip:caller@example.invalid>;tag={from_tag}",
            f"To: <sip:helpdesk@{HOST}>" + (f" ; tag = {to_tag}" if to_tag else ""),
            f"Call-ID: {call_id or self.call_id}",
            f"CSeq: {cseq} {method.split()[0]}",
            f"Contact: <sip:caller@{HOST}:{self.port}>",
            *extra,
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.sock.sendto(data, (HOST, self.door))
        return data

    def expect(self, status: int, method: str, timeout: float = 3.0) -> sipmsg.SipMessage:
        """The next response for ``method`` with ``status`` (others, e.g. 100/180, skipped)."""
        self.sock.settimeout(timeout)
        while True:
            msg = sipmsg.parse(self.sock.recv(65535))
            if msg.cseq[1] == method and msg.status == status:
                return msg
            if msg.cseq[1] == method and (msg.status or 0) >= 200:
                raise AssertionError(f"{method}: got {msg.status}, want {status}")

    def expect_request(self, method: str, timeout: float = 3.0) -> sipmsg.SipMessage:
        """The next request with ``method`` the door sends us (responses skipped)."""
        self.sock.settimeout(timeout)
        while True:
            msg = sipmsg.parse(self.sock.recv(65535))
            if msg.method == method:
                return msg

    def close(self) -> None:
        self.sock.close()


def answering(door: SipFrontDoor, event: CallEvent) -> object:
    async def go() -> None:
        if isinstance(event, CallOffered):
            await door.answer(event.call_id)

    return go()


async def established(door: SipFrontDoor) -> tuple[Phone, str]:
    phone = Phone(door.local[1])
    phone.request("INVITE", cseq=10, body=SDP)
    ok = await asyncio.to_thread(phone.expect, 200, "INVITE")
    phone.request("ACK", cseq=10, to_tag=ok.to_tag)
    return phone, ok.to_tag


async def test_bye_needs_both_tags_and_cseq_in_order(make_door: MakeDoor) -> None:
    door, rec = await make_door(answering)  # type: ignore[misc]
    phone, tag = await established(door)
    try:
        await rec.wait_for(lambda e: isinstance(e, CallAnswered))
        phone.request("BYE", cseq=11, to_tag="not-our-tag")
        await asyncio.to_thread(phone.expect, 481, "BYE")
        phone.request("BYE", cseq=11, to_tag=tag, from_tag="someone-else")
        await asyncio.to_thread(phone.expect, 481, "BYE")
        assert phone.call_id in door.calls  # neither ended the call
        phone.request("INFO", cseq=20, to_tag=tag)
        await asyncio.to_thread(phone.expect, 200, "INFO")
        phone.request("BYE", cseq=12, to_tag=tag)  # lower than 20: out of order
        await asyncio.to_thread(phone.expect, 500, "BYE")
        phone.request("BYE", cseq=21, to_tag=tag)  # "tag = x" with LWS still matches
        await asyncio.to_thread(phone.expect, 200, "BYE")
        await rec.wait_for(lambda e: isinstance(e, CallEnded))
    finally:
        phone.close()


async def test_a_reused_branch_never_gets_another_calls_response(make_door: MakeDoor) -> None:
    door, rec = await make_door(answering)  # type: ignore[misc]
    phone = Phone(door.local[1])
    try:
        branch = "z9hG4bK" + uuid.uuid4().hex
        phone.request("OPTIONS", cseq=1, branch=branch)
        first = await asyncio.to_thread(phone.expect, 200, "OPTIONS")
        phone.request("OPTIONS", cseq=1, branch=branch)  # a retransmission: same answer
        again = await asyncio.to_thread(phone.expect, 200, "OPTIONS")
        assert again.to_tag == first.to_tag
        other = f"{uuid.uuid4().hex}@example.invalid"  # same branch, another Call-ID
        phone.request("INVITE", cseq=1, branch=branch, call_id=other, body=SDP)
        ok = await asyncio.to_thread(phone.expect, 200, "INVITE")
        assert ok.call_id == other
        assert len(rec.of(CallOffered)) == 1
    finally:
        phone.close()


async def test_merged_request_gets_482(make_door: MakeDoor) -> None:
    door, rec = await make_door(lambda d, e: None)  # type: ignore[misc]
    phone = Phone(door.local[1])
    try:
        phone.request("INVITE", cseq=5, body=SDP)
        await asyncio.to_thread(phone.expect, 100, "INVITE")
        phone.request("INVITE", cseq=5, body=SDP)  # same From-tag/Call-ID/CSeq, new branch
        await asyncio.to_thread(phone.expect, 482, "INVITE")
        await rec.wait_for(lambda e: isinstance(e, CallOffered))
        assert len(door.calls) == 1
    finally:
        phone.close()


async def test_require_and_capabilities(make_door: MakeDoor) -> None:
    door, _ = await make_door(lambda d, e: None)  # type: ignore[misc]
    phone = Phone(door.local[1])
    try:
        for tags, unsupported in (("x-unknown", "x-unknown"), ("100rel, x-foo, timer", "x-foo")):
            phone.request("INVITE", cseq=1, body=SDP, call_id=f"{uuid.uuid4().hex}@x",
                          extra=(f"Require: {tags}",))
            refused = await asyncio.to_thread(phone.expect, 420, "INVITE")
            assert refused.get("unsupported") == unsupported
        phone.request("OPTIONS", cseq=2)
        ok = await asyncio.to_thread(phone.expect, 200, "OPTIONS")
        allowed = {m.strip() for m in ok.get("allow").split(",")}
        assert allowed == {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "UPDATE", "REFER",
                           "PRACK"}
        assert {t.strip() for t in ok.get("supported").split(",")} == {"100rel", "timer"}
        for method, status in (("PRACK", 481), ("SUBSCRIBE", 405), ("FOO-BAR.1", 501)):
            phone.request(method, cseq=3)
            await asyncio.to_thread(phone.expect, status, method)
        assert door.calls == {}
    finally:
        phone.close()


async def test_our_bye_carries_one_contact(make_door: MakeDoor) -> None:
    door, rec = await make_door(answering)  # type: ignore[misc]
    phone, tag = await established(door)
    try:
        answered = await rec.wait_for(lambda e: isinstance(e, CallAnswered))
        await door.hangup(answered.call_id)
        bye = await asyncio.to_thread(phone.expect_request, "BYE")
        assert [k for k, _ in bye.headers].count("contact") == 1
        assert bye.from_tag == tag and bye.to_tag == "caller1"
    finally:
        phone.close()


async def test_a_callers_refer_is_refused_politely(make_door: MakeDoor) -> None:
    door, rec = await make_door(answering)  # type: ignore[misc]
    phone, tag = await established(door)
    try:
        await rec.wait_for(lambda e: isinstance(e, CallAnswered))
        phone.request("REFER", cseq=11, to_tag=tag, extra=("Refer-To: <sip:elsewhere@127.0.0.1>",))
        refused = await asyncio.to_thread(phone.expect, 403, "REFER")
        assert "helpdesk" in refused.get("warning")
        assert phone.call_id in door.calls
    finally:
        phone.close()
