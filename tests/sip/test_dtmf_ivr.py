"""DTMF (RFC 2833 and SIP INFO), the IVR paths and G.711 correctness against SIPp."""

from __future__ import annotations

import asyncio
import audioop
import itertools
import math
import socket
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from ivr_driver import IvrDriver
from peers import HOST, free_udp_port, render, run_sipp

from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallEnded, CallEvent, CallOffered, DigitReceived, DigitSource
from cti.sip.ivr import ClosedReason, IvrSettings, MenuEntry

pytestmark = pytest.mark.peers
MakeDoor = Callable[..., object]
ENTRIES = (
    MenuEntry("1", "isolation", "インターネット分離", "internet isolation"),
    MenuEntry("2", "skysea", "スカイシー", "SKYSEA"),
    MenuEntry("9", "other", "その他", "other questions"),
)


def rfc2833(digit: str, pause_ms: int = 300) -> str:
    return (f'  <pause milliseconds="{pause_ms}"/>\n'
            f'  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_{digit}.pcap"/>'
            "</action></nop>\n")


def info(digit: str, cseq: int, pause_ms: int = 300) -> str:
    return f"""  <pause milliseconds="{pause_ms}"/>
  <send retrans="500">
    <![CDATA[

      INFO [next_url] SIP/2.0
      [routes]
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:0355501234@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      Contact: sip:0355501234@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={digit}
      Duration=160

    ]]>
  </send>
  <recv response="200"/>
"""


async def run_ivr_call(make_door: MakeDoor, tmp_path: Path, dtmf: str, *, codecs: str = "0",
                       settings: IvrSettings | None = None,
                       door_kw: dict[str, object] | None = None, **driver_kw: object
                       ) -> tuple[IvrDriver, list[CallEvent]]:
    holder: dict[str, IvrDriver] = {}

    def handler(door: SipFrontDoor, event: CallEvent) -> object:
        return holder["driver"].handle(event)

    door, rec = await make_door(handler, **(door_kw or {}))  # type: ignore[misc]
    holder["driver"] = IvrDriver(
        door, settings or IvrSettings(ENTRIES, max_repeats=1, digit_timeout_s=0.4), **driver_kw)
    scenario = render("uac_wait_bye.xml", tmp_path, codecs=codecs, media_port="[media_port]",
                      dtmf=dtmf, bye_timeout_ms=10000)
    result = await run_sipp(scenario, door.local[1], tmp_path)
    assert result.returncode == 0, result.errors + result.stderr
    await rec.wait_for(lambda e: isinstance(e, CallEnded))
    return holder["driver"], rec.events


@pytest.mark.parametrize("media_workers", [1, 0])  # the digit found in a worker, or in-process
async def test_rfc2833_digit_selects_service(make_door: MakeDoor, tmp_path: Path,
                                             media_workers: int) -> None:
    driver, events = await run_ivr_call(make_door, tmp_path, rfc2833("2"),
                                        door_kw={"media_workers": media_workers})
    (selected,) = driver.selected.values()
    assert (selected.service_id, selected.digit, selected.fallback) == ("skysea", "2", False)
    digits = [e for e in events if isinstance(e, DigitReceived)]
    assert [(d.digit, d.source) for d in digits] == [("2", DigitSource.RFC2833)]  # once only


async def test_sip_info_digit_selects_service(make_door: MakeDoor, tmp_path: Path) -> None:
    driver, events = await run_ivr_call(make_door, tmp_path, info("1", 2))
    (selected,) = driver.selected.values()
    assert (selected.service_id, selected.digit) == ("isolation", "1")
    digits = [e for e in events if isinstance(e, DigitReceived)]
    assert [(d.digit, d.source) for d in digits] == [("1", DigitSource.INFO)]


async def test_invalid_digit_twice_routes_to_other(make_door: MakeDoor, tmp_path: Path) -> None:
    dtmf = info("7", 2) + info("#", 3, pause_ms=200)
    driver, _ = await run_ivr_call(make_door, tmp_path, dtmf)
    (selected,) = driver.selected.values()
    assert (selected.service_id, selected.digit, selected.fallback) == ("other", None, True)


async def test_no_digit_repeats_menu_then_routes_to_other(
    make_door: MakeDoor, tmp_path: Path
) -> None:
    driver, _events = await run_ivr_call(make_door, tmp_path, "")
    (selected,) = driver.selected.values()
    assert selected.fallback and selected.attempts == 2  # menu heard twice, then "other"


async def test_closed_hours_announcement_then_hangup(make_door: MakeDoor, tmp_path: Path) -> None:
    driver, events = await run_ivr_call(make_door, tmp_path, rfc2833("1"),
                                        closed=(ClosedReason.AFTER_HOURS, None))
    assert driver.selected == {}  # digits are ignored when closed
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert ended and ended[0].hung_up_by.value == "system"


def goertzel_power(samples: list[int], freq: float) -> float:
    k = 2 * math.cos(2 * math.pi * freq / 8000)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2


@pytest.mark.parametrize(("codecs", "pt"), [("8", 8), ("0", 0), ("8 0", 8)])
async def test_g711_encoding_matches_the_negotiated_codec(
    make_door: MakeDoor, tmp_path: Path, codecs: str, pt: int
) -> None:
    """Defect 9: a PCMA-only caller must get A-law, not µ-law labelled PCMA."""
    media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media_port = free_udp_port(even=True)
    media.bind((HOST, media_port))
    media.setblocking(False)

    def handler(door: SipFrontDoor, event: CallEvent) -> object:
        async def go() -> None:
            if isinstance(event, CallOffered):
                await door.answer(event.call_id)
                await door.play(event.call_id, ("tone:1000", "tone:1000"))  # 2 s

        return go()

    door, rec = await make_door(handler)  # type: ignore[misc]
    scenario = render("uac_wait_bye.xml", tmp_path, codecs=codecs, media_port=media_port,
                      dtmf="", bye_timeout_ms=8000)
    sipp = asyncio.create_task(run_sipp(scenario, door.local[1], tmp_path))
    packets: list[bytes] = []
    loop = asyncio.get_running_loop()
    try:
        while len(packets) < 60:
            packets.append(await asyncio.wait_for(loop.sock_recv(media, 2048), 5))
    finally:
        media.close()
        offered = rec.of(CallOffered)
        if offered:
            await door.hangup(offered[0].call_id)  # type: ignore[attr-defined]
        result = await sipp
    assert result.returncode == 0, result.errors + result.stderr
    assert f"RTP/AVP {pt} 101" in result.messages
    header = [struct.unpack("!BBHII", p[:12]) for p in packets]
    assert {h[1] & 0x7F for h in header} == {pt}
    seqs = [h[2] for h in header]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    payload = b"".join(p[12:] for p in packets[10:60])
    pcm = audioop.alaw2lin(payload, 2) if pt == 8 else audioop.ulaw2lin(payload, 2)
    samples = list(struct.unpack(f"<{len(pcm) // 2}h", pcm))
    assert goertzel_power(samples, 1000) > 100 * goertzel_power(samples, 1500)
    rms = audioop.rms(pcm, 2)
    assert 0.6 * 0.25 * 32767 / math.sqrt(2) < rms < 1.4 * 0.25 * 32767 / math.sqrt(2)
