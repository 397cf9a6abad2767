"""Registered mode against Kamailio (registrar + record-routing proxy, digest auth)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import Kamailio, free_udp_port, render, run_sipp, wait_until

from cti.sip.adapter import SipFrontDoor
from cti.sip.events import (
    CallEnded,
    CallEvent,
    CallOffered,
    HungUpBy,
    PlaybackFinished,
    RegistrationChanged,
    RegistrationState,
)
from cti.sip.settings import RegistrarSettings

pytestmark = pytest.mark.peers
MakeDoor = Callable[..., object]
PASSWORD = "helpdesk-test-secret"


def answer_play_hangup(door: SipFrontDoor, event: CallEvent) -> object:
    async def go() -> None:
        if isinstance(event, CallOffered):
            await door.answer(event.call_id)
            await door.play(event.call_id, "short")
        elif isinstance(event, PlaybackFinished):
            await door.hangup(event.call_id)

    return go()


def registrar(port: int, password: str = PASSWORD) -> RegistrarSettings:
    return RegistrarSettings(host="127.0.0.1", port=port, user="helpdesk", password=password,
                             expires_s=60, retry_s=0.3, attempt_timeout_s=1.0)


def is_state(state: RegistrationState) -> Callable[[CallEvent], bool]:
    return lambda e: isinstance(e, RegistrationChanged) and e.state is state


@pytest.mark.parametrize("qop", [True, False])
async def test_register_and_take_a_call_through_the_proxy(
    make_door: MakeDoor, tmp_path: Path, qop: bool
) -> None:
    async with Kamailio(tmp_path, password=PASSWORD, qop=qop) as kam:
        door, rec = await make_door(answer_play_hangup, registrar=registrar(kam.port))  # type: ignore[misc]
        await rec.wait_for(is_state(RegistrationState.REGISTERED), 5)
        await wait_until(lambda: "REGISTERED sip:helpdesk@127.0.0.1" in kam.output(), 5)
        scenario = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                          dtmf="", bye_timeout_ms=8000)
        result = await run_sipp(scenario, kam.port, tmp_path)
        assert result.returncode == 0, result.errors + result.stderr + kam.output()[-2000:]
        # our BYE went through the proxy: it carries the Record-Route as Route (defect 2)
        bye = next(m for m in result.messages.split("----") if "BYE sip:" in m)
        assert f"Via: SIP/2.0/UDP 127.0.0.1:{kam.port}" in bye
        ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
        assert isinstance(ended, CallEnded) and ended.hung_up_by is HungUpBy.SYSTEM
        assert door.calls == {}


async def test_registration_recovers_when_the_registrar_comes_back(
    make_door: MakeDoor, tmp_path: Path
) -> None:
    """Defect 11: pyVoIP blocks 30 s, ends FAILED and never recovers."""
    port = free_udp_port()
    door, rec = await make_door(lambda d, e: None, registrar=registrar(port))  # type: ignore[misc]
    await rec.wait_for(is_state(RegistrationState.FAILED), 5)
    assert door.registration_state is RegistrationState.FAILED
    async with Kamailio(tmp_path, password=PASSWORD, port=port):
        await rec.wait_for(is_state(RegistrationState.REGISTERED), 10)
    assert door.registration_state is RegistrationState.REGISTERED


async def test_wrong_password_fails_and_keeps_retrying(make_door: MakeDoor, tmp_path: Path) -> None:
    async with Kamailio(tmp_path, password=PASSWORD) as kam:
        door, rec = await make_door(lambda d, e: None,  # type: ignore[misc]
                                    registrar=registrar(kam.port, password="wrong"))
        failed = await rec.wait_for(is_state(RegistrationState.FAILED), 5)
        assert isinstance(failed, RegistrationChanged) and "credentials rejected" in failed.detail
        reg = door.registration
        first = reg.attempts  # type: ignore[attr-defined]
        await wait_until(lambda: reg.attempts >= first + 2, 5)  # type: ignore[attr-defined]
        assert door.registration_state is RegistrationState.FAILED


async def test_operator_leg_through_the_proxy_to_a_registered_baresip(
    make_door: MakeDoor, tmp_path: Path
) -> None:
    """Registered mode end to end: caller and operator phone both reach us through Kamailio.

    The operator leg's 200 carries Record-Route, so the ACK and the BYE must follow the
    reversed route set (defects 2 and 3 on the UAC side); baresip repeats its 200 otherwise.
    """
    from peers import Baresip
    from rtp_peer import RtpPeer, decode, has_tone

    from cti.sip.events import OperatorConnected

    async with Kamailio(tmp_path, password=PASSWORD, qop=False) as kam:
        async with Baresip(tmp_path, tone_hz=1300, registrar=(kam.port, PASSWORD)) as phone:
            await wait_until(lambda: "REGISTERED sip:201@" in kam.output(), 10)
            operator_uri = f"sip:201@127.0.0.1:{kam.port}"

            def handler(door: SipFrontDoor, event: CallEvent) -> object:
                async def go() -> None:
                    if isinstance(event, CallOffered):
                        await door.answer(event.call_id)
                        await door.play(event.call_id, "tone:hold", loop=True)
                        await door.connect_to_operator(event.call_id, operator_uri, 10)

                return go()

            door, rec = await make_door(  # type: ignore[misc]
                handler, registrar=registrar(kam.port), outbound_proxy=("127.0.0.1", kam.port))
            await rec.wait_for(is_state(RegistrationState.REGISTERED), 5)
            caller_media = RtpPeer(pt=0, freq=700.0)
            scenario = render("uac_wait_bye.xml", tmp_path, codecs="0",
                              media_port=caller_media.port, dtmf="", bye_timeout_ms=20000)
            caller = asyncio.create_task(run_sipp(scenario, kam.port, tmp_path, timeout_s=30))
            receiver = asyncio.create_task(caller_media.receive())
            try:
                connected = await rec.wait_for(lambda e: isinstance(e, OperatorConnected), 10)
                call = door.calls[connected.call_id]
                assert call.media is not None
                await caller_media.send(("127.0.0.1", call.media.local_port), 4.0)
                await door.hangup(connected.call_id)
                result = await caller
                assert result.returncode == 0, result.errors + result.stderr
            finally:
                receiver.cancel()
                caller_media.close()
            assert door.retransmitted_2xx == 0, phone.output()[-3000:]
            await wait_until(lambda: "terminated" in phone.output(), 5)  # our BYE reached it
    heard = [p for _, pt, p in caller_media.received if has_tone(decode(p, pt), 1300.0)]
    assert len(heard) > 0.8 * 3 * 50
