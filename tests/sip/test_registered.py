"""Registered mode against Kamailio (registrar + record-routing proxy, digest auth)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
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
from peers import Kamailio, free_udp_port, render, run_sipp, wait_until

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
