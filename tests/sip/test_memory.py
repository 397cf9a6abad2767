from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from cti.sip.control import CallControl, prompt_names
from cti.sip.errors import CallNotFoundError, IllegalCallTransitionError
from cti.sip.events import (
    CallAnswered,
    CallEnded,
    CallOffered,
    DigitReceived,
    DigitSource,
    EndReason,
    HungUpBy,
    OperatorConnected,
    OperatorFailed,
    OperatorFailure,
    OperatorNoAnswer,
    OperatorRinging,
    PlaybackFinished,
    RegistrationChanged,
)
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour

OP = "sip:201@example.invalid"


@pytest.fixture
async def net() -> AsyncIterator[MemoryPhoneNetwork]:
    n = MemoryPhoneNetwork()
    await n.start()
    yield n
    await n.stop()


def drain(net: MemoryPhoneNetwork) -> list[object]:
    return [e for e in net._stream.pending() if not isinstance(e, RegistrationChanged)]


async def test_is_a_call_control(net: MemoryPhoneNetwork) -> None:
    assert isinstance(net, CallControl)


async def test_full_call_to_operator(net: MemoryPhoneNetwork) -> None:
    cid = net.dial("0355501234")
    await net.answer(cid)
    await net.play(cid, "greeting+incident")
    net.finish_playback(cid)
    net.press(cid, "1", DigitSource.INFO)
    net.set_operator(OP, OperatorBehaviour.ANSWER)
    await net.play(cid, "tone:hold", loop=True)
    await net.connect_to_operator(cid, OP, 20)
    assert net.call(cid).playing is None  # bridge stops queue audio
    net.operator_hangs_up(cid)
    kinds = [type(e) for e in drain(net)]
    assert kinds == [
        CallOffered, CallAnswered, PlaybackFinished, DigitReceived,
        OperatorRinging, OperatorConnected, CallEnded,
    ]
    assert net.ended[cid].hung_up_by is HungUpBy.OPERATOR
    assert cid not in net.active_calls


@pytest.mark.parametrize(
    ("behaviour", "reason", "status"),
    [
        (OperatorBehaviour.BUSY, OperatorFailure.BUSY, 486),
        (OperatorBehaviour.NOT_FOUND, OperatorFailure.NOT_FOUND, 404),
        (OperatorBehaviour.UNREACHABLE, OperatorFailure.UNREACHABLE, None),
    ],
)
async def test_operator_failures_keep_caller(
    net: MemoryPhoneNetwork, behaviour: OperatorBehaviour, reason: OperatorFailure, status: int | None
) -> None:
    cid = net.dial()
    await net.answer(cid)
    net.set_operator(OP, behaviour)
    await net.connect_to_operator(cid, OP, 20)
    last = drain(net)[-1]
    assert isinstance(last, OperatorFailed)
    assert (last.call_id, last.operator_uri, last.reason, last.sip_status) == (cid, OP, reason, status)
    await net.play(cid, "tone:hold")  # caller is still there; a new attempt is possible
    await net.connect_to_operator(cid, OP, 20)


async def test_no_answer_and_caller_hangs_up_while_ringing(net: MemoryPhoneNetwork) -> None:
    cid = net.dial()
    await net.answer(cid)
    net.set_operator(OP, OperatorBehaviour.NO_ANSWER)
    await net.connect_to_operator(cid, OP, 15)
    assert isinstance(drain(net)[-1], OperatorNoAnswer)
    net.set_operator(OP, OperatorBehaviour.RING)
    await net.connect_to_operator(cid, OP, 15)
    net.caller_hangs_up(cid)
    last = drain(net)[-1]
    assert isinstance(last, CallEnded) and last.reason is EndReason.CALLER_HUNG_UP


async def test_cancel_before_answer_and_commands_after_end(net: MemoryPhoneNetwork) -> None:
    cid = net.dial()
    net.caller_hangs_up(cid)
    assert net.ended[cid].reason is EndReason.CALLER_CANCELLED
    with pytest.raises(CallNotFoundError):
        await net.answer(cid)
    await net.hangup(cid)  # idempotent


async def test_illegal_transition(net: MemoryPhoneNetwork) -> None:
    cid = net.dial()
    with pytest.raises(IllegalCallTransitionError):
        await net.connect_to_operator(cid, OP, 10)  # not answered yet


async def test_events_iterator_ends_on_stop() -> None:
    n = MemoryPhoneNetwork()
    await n.start()
    cid = n.dial()
    got: list[object] = []

    async def consume() -> None:
        async for e in n.events():
            got.append(e)

    task = asyncio.create_task(consume())
    await n.stop()
    await asyncio.wait_for(task, 2)
    assert isinstance(got[-1], CallEnded) and got[-1].call_id == cid
    assert got[-1].reason is EndReason.SHUTDOWN


def test_prompt_names() -> None:
    assert prompt_names("a+b") == ("a", "b")
    assert prompt_names(("a", "b+c")) == ("a", "b", "c")
    assert prompt_names("greeting+tts:1+1=2 です") == ("greeting", "tts:1+1=2 です")
    assert prompt_names(("tts:a+b", "hold")) == ("tts:a+b", "hold")
    with pytest.raises(ValueError):
        prompt_names("")


async def test_unknown_prompt_is_refused_like_the_adapter() -> None:
    from cti.sip.errors import UnknownPromptError

    n = MemoryPhoneNetwork(prompts=frozenset({"greeting"}))
    await n.start()
    cid = n.dial()
    await n.answer(cid)
    await n.play(cid, ("greeting", "tone:hold", "tts:テスト"))
    with pytest.raises(UnknownPromptError):
        await n.play(cid, "no_such_prompt")
    await n.stop()
