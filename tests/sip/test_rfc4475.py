"""RFC 4475 conformance: every torture message of section 3, sent to the running service.

The messages in ``rfc4475/`` are the RFC's own test messages (its appendix A archive, one file
per message, named as in the RFC). The expected responses are what the RFC calls for from a
user agent server that is not a registrar or proxy (REGISTER is answered 405 after the
message parsed). After every message an OPTIONS must still get 200.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from cti.sip import message as sipmsg
from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallOffered

MakeDoor = Callable[..., object]
MESSAGES = Path(__file__).parent / "rfc4475"

# name -> acceptable first response statuses (empty: a response, never answered)
EXPECTED: dict[str, tuple[int, ...]] = {
    # 3.1.1 valid messages: parsed and processed
    "wsinv": (481,),  # To-tag "tag    = 1918181833n" seen through LWS: no such dialog
    "intmeth": (501,),  # a method made of unusual token characters
    "esc01": (100,), "escnull": (405,), "esc02": (501,), "lwsdisp": (200,), "longreq": (100,),
    "dblreq": (405,),  # the second request in the datagram is ignored (Content-Length: 0)
    "semiuri": (200,), "transports": (200,), "mpart01": (405,),
    "unreason": (), "noreason": (),
    # 3.1.2 invalid messages
    "badinv01": (400,), "clerr": (400,), "ncl": (400,), "scalar02": (400,), "scalarlg": (),
    "quotbal": (400,), "ltgtruri": (400,), "lwsruri": (400,), "lwsstart": (400,),
    "trws": (400,), "escruri": (400,), "baddate": (400,), "regbadct": (400,),
    "badaspec": (400,), "baddn": (400,), "badvers": (505,), "mismatch01": (400,),
    "mismatch02": (400, 501), "bigcode": (),
    # 3.2 transaction layer
    "badbranch": (200,),
    # 3.3 application layer
    "insuf": (400,), "unkscm": (416,), "novelsc": (416,), "unksm2": (405,), "bext01": (420,),
    "invut": (415,), "regaut01": (405,), "multi01": (400,), "mcl01": (400,), "bcast": (),
    "zeromf": (200,), "cparam01": (405,), "cparam02": (405,), "regescrt": (405,),
    "sdp01": (406,),
    # 3.4 backward compatibility
    "inv2543": (100,),
}


def reply_port(data: bytes) -> int:
    """The port a response must reach: the top Via's sent-by port (5060 by default)."""
    try:
        return sipmsg.via_sent_by(sipmsg.parse(data).all("via")[0])[1]
    except (sipmsg.SipParseError, IndexError):
        return 5060  # malformed: answered to the source address, which is this port too


def exchange(host: str, port: int, target: int, data: bytes, timeout: float) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, port))
        s.settimeout(timeout)
        s.sendto(data, ("127.0.0.1", target))
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def options(port: int) -> bytes:
    return (f"OPTIONS sip:helpdesk@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{uuid.uuid4().hex};rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:probe@example.invalid>;tag=p1\r\n"
            f"To: <sip:helpdesk@127.0.0.1>\r\nCall-ID: {uuid.uuid4().hex}\r\n"
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def test_every_message_of_section_3_is_here() -> None:
    assert {p.stem for p in MESSAGES.glob("*.sip")} == set(EXPECTED)
    assert len(EXPECTED) == 49


async def test_torture_messages_get_the_response_the_rfc_calls_for(make_door: MakeDoor) -> None:
    door, rec = await make_door(lambda d, e: None)  # type: ignore[misc]
    assert isinstance(door, SipFrontDoor)
    port = door.local[1]
    wrong: dict[str, str] = {}
    for i, (name, expected) in enumerate(sorted(EXPECTED.items()), start=1):
        data = (MESSAGES / f"{name}.sip").read_bytes()
        host = f"127.77.{i // 250}.{i % 250 + 1}"  # one address each: late retransmissions
        reply = await asyncio.to_thread(exchange, host, reply_port(data), port, data,
                                        2.0 if expected else 0.5)
        got = None if reply is None else int(reply.split(b" ", 2)[1])
        if (got is None and expected) or (got is not None and got not in expected):
            wrong[name] = f"got {got}, want {expected or 'no response'}"
        probe = await asyncio.to_thread(exchange, "127.0.0.1", 0, port, options(port), 2.0)
        assert probe is not None and probe.startswith(b"SIP/2.0 200 "), f"dead after {name}"
    assert wrong == {}
    offered = {e.call_id.split(".", 1)[0] for e in rec.of(CallOffered)}
    assert offered <= {"esc01", "longreq", "inv2543"}  # only valid INVITEs became calls


@pytest.mark.parametrize(("what", "uri", "via_transport", "status"), [
    ("sips over UDP", "sips:helpdesk@127.0.0.1", "UDP", 416),
    ("unknown scheme", "im:helpdesk@127.0.0.1", "UDP", 416),
    ("tel is fine", "tel:+81115550000", "UDP", 200),
])
async def test_request_uri_schemes(make_door: MakeDoor, what: str, uri: str,
                                   via_transport: str, status: int) -> None:
    door, _ = await make_door(lambda d, e: None)  # type: ignore[misc]
    port = door.local[1]
    data = options(port).replace(f"sip:helpdesk@127.0.0.1:{port}".encode(), uri.encode(), 1)
    reply = await asyncio.to_thread(exchange, "127.0.0.1", 0, port, data, 2.0)
    assert reply is not None and reply.startswith(f"SIP/2.0 {status} ".encode()), what
