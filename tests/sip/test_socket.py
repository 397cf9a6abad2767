"""The SIP socket survives hostile addresses, reports its real state, and reopens if it dies."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from cti.metrics.collector import CtiMetrics
from cti.sip.adapter import SipFrontDoor
from cti.sip.transport import SO_MEMINFO

MakeDoor = Callable[..., object]
HOST = "127.0.0.1"


def options(port: int, via: str, *, call_id: str | None = None) -> bytes:
    lines = [
        f"OPTIONS sip:helpdesk@{HOST}:{port} SIP/2.0",
        f"Via: {via}",
        "From: <sip:tester@example.invalid>;tag=sock1",
        f"To: <sip:helpdesk@{HOST}>",
        f"Call-ID: {call_id or uuid.uuid4().hex}@example.invalid",
        "CSeq: 1 OPTIONS",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


KEEPALIVE = b"\r\n" * 700  # RFC 5626 keep-alive, a full datagram's worth: the service ignores it


def overflow(port: int, datagrams: int = 4000) -> None:
    """Send keep-alives to the service's SIP socket (9 MB, more than any receive buffer takes).
    Called on the event loop's own thread, so the service cannot read meanwhile: the kernel
    queues what fits and drops the rest, as under a storm the service cannot keep up with."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(datagrams):
            s.sendto(KEEPALIVE, (HOST, port))


def queued_bytes(door: SipFrontDoor) -> int:
    """What waits in the SIP socket's receive queue (the kernel's count, SO_MEMINFO)."""
    assert door.transport is not None and door.transport.transport is not None
    sock = door.transport.transport.get_extra_info("socket")
    return int.from_bytes(sock.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 4), "little")


def exchange(port: int, payload: bytes, *, timeout: float = 2.0) -> bytes | None:
    """Send from a fresh socket on 127.0.0.1 and return what comes back to it (or None)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        s.settimeout(timeout)
        s.sendto(payload.replace(b"{me}", str(s.getsockname()[1]).encode()), (HOST, port))
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def status(reply: bytes | None) -> str:
    assert reply is not None, "no response"
    return reply.split(b"\r\n", 1)[0].decode()


async def still_answers(door: SipFrontDoor) -> None:
    port = door.local[1]
    via = f"SIP/2.0/UDP {HOST}:{{me}};branch=z9hG4bK{uuid.uuid4().hex};rport"
    reply = await asyncio.to_thread(exchange, port, options(port, via))
    assert status(reply) == "SIP/2.0 200 OK"
    health = door.socket_health()
    assert health is not None and health.bound


async def test_hostile_via_addresses_never_close_the_socket(make_door: MakeDoor) -> None:
    door, _ = await make_door(lambda d, e: None)  # type: ignore[misc]
    port = door.local[1]
    bad_vias = {
        "port > 65535": f"SIP/2.0/UDP {HOST}:99999;branch=z9hG4bK{{b}}",
        "port 0": f"SIP/2.0/UDP {HOST}:0;branch=z9hG4bK{{b}}",
        "300-char host": "SIP/2.0/UDP " + "h" * 300 + ":5060;branch=z9hG4bK{b}",
        "NUL in host": "SIP/2.0/UDP 127.0.0.1\x00evil:5060;branch=z9hG4bK{b}",
        "40-digit port": f"SIP/2.0/UDP {HOST}:{'9' * 40};branch=z9hG4bK{{b}}",
    }
    for name, via in bad_vias.items():
        data = options(port, via.replace("{b}", uuid.uuid4().hex))
        reply = await asyncio.to_thread(exchange, port, data)
        # an unusable sent-by is a malformed request: 400, sent back to where it came from
        assert status(reply).startswith("SIP/2.0 400"), name
        await still_answers(door)


async def test_received_from_the_wire_never_aims_our_responses(make_door: MakeDoor) -> None:
    door, _ = await make_door(lambda d, e: None)  # type: ignore[misc]
    port = door.local[1]
    vectors = {
        "NUL in received": f"SIP/2.0/UDP {HOST}:{{me}};branch=z9hG4bK{{b}};received=1.2.3.4\x00x",
        "third host in received": f"SIP/2.0/UDP {HOST}:{{me}};branch=z9hG4bK{{b}};received=127.0.0.9",
        "rport with a third host": (f"SIP/2.0/UDP {HOST}:{{me}};branch=z9hG4bK{{b}};"
                                    "received=127.0.0.9;rport"),
    }
    for name, via in vectors.items():
        data = options(port, via.replace("{b}", uuid.uuid4().hex))
        reply = await asyncio.to_thread(exchange, port, data)  # arrives at the real source
        assert status(reply) == "SIP/2.0 200 OK", name
        assert reply is not None and b"127.0.0.9" not in reply and b"1.2.3.4" not in reply, name
        await still_answers(door)


async def test_send_errors_are_counted_never_fatal(make_door: MakeDoor) -> None:
    door, _ = await make_door(lambda d, e: None)  # type: ignore[misc]
    transport = door.transport
    assert transport is not None
    before = transport.send_errors
    for addr in ((HOST, 99999), (HOST, 0), ("1.2.3.4\x00", 5060), ("h" * 300, 5060),
                 (HOST, -1), ("::1", 5060), ("", 5060)):
        assert transport.send(b"OPTIONS sip:x SIP/2.0\r\n\r\n", addr) is False  # type: ignore[arg-type]
    health = door.socket_health()
    assert health is not None and health.bound
    assert health.send_errors == before + 7
    assert "refused destination" in health.last_send_error or "IPv4" in health.last_send_error
    await still_answers(door)


async def test_a_dead_socket_is_reported_and_reopened(make_door: MakeDoor) -> None:
    door, _ = await make_door(lambda d, e: None)  # type: ignore[misc]
    registry = CollectorRegistry()
    metrics = CtiMetrics(registry, baseline=[1] * 12, services=("portal",),
                         service_level_threshold_s=20, is_business_day=lambda d: True)
    metrics.watch_sip_socket(door.socket_health)
    assert registry.get_sample_value("cti_sip_socket_bound") == 1
    local = door.local
    transport = door.transport
    assert transport is not None and transport.transport is not None
    transport.transport.abort()  # the socket dies under us
    await asyncio.sleep(0)
    health = door.socket_health()
    assert health is not None and not health.bound  # the truth, at once
    assert registry.get_sample_value("cti_sip_socket_bound") == 0

    assert door.reopening is not None
    await asyncio.wait_for(door.reopening, 5)
    assert door.local == local
    assert registry.get_sample_value("cti_sip_socket_bound") == 1
    assert registry.get_sample_value("cti_sip_socket_reopened_total") == 1
    await still_answers(door)
    assert (registry.get_sample_value("cti_sip_last_datagram_timestamp_seconds") or 0) > 0


async def test_host_names_are_resolved_off_the_loop(make_door: MakeDoor) -> None:
    door, _ = await make_door(lambda d, e: None)  # type: ignore[misc]
    transport = door.transport
    assert transport is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        s.settimeout(3)
        assert transport.send(b"hello", ("localhost", s.getsockname()[1])) is True
        data = await asyncio.to_thread(s.recv, 100)
    assert data == b"hello"
    before = transport.send_errors
    transport.send(b"x", ("no-such-host.invalid", 5060))
    await asyncio.wait_for(transport.resolutions_done(), 10)
    assert transport.send_errors == before + 1 and "resolve" in transport.last_send_error
    await still_answers(door)
