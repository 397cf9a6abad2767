"""The two state tables: shape, named errors, terminal states."""

from __future__ import annotations

from itertools import pairwise

import pytest

from cti.routing import (
    CALL_TRANSITIONS,
    OPERATOR_TRANSITIONS,
    TERMINAL_CALL_STATES,
    CallState,
    IllegalTransition,
    OperatorState,
)
from cti.routing.call_state import check_call_transition
from cti.routing.operator_state import check_operator_transition


def test_every_state_has_a_row() -> None:
    assert set(OPERATOR_TRANSITIONS) == set(OperatorState)
    assert set(CALL_TRANSITIONS) == set(CallState)


def test_the_documented_operator_cycle_is_allowed() -> None:
    cycle = ["offline", "available", "reserved", "on_call", "wrap_up", "available"]
    for old, new in pairwise(cycle):
        assert check_operator_transition("op", OperatorState(old), OperatorState(new)) == new


def test_on_call_can_only_go_to_wrap_up() -> None:
    assert OPERATOR_TRANSITIONS[OperatorState.ON_CALL] == {OperatorState.WRAP_UP}
    for target in set(OperatorState) - {OperatorState.WRAP_UP}:
        with pytest.raises(IllegalTransition) as info:
            check_operator_transition("op-aoki", OperatorState.ON_CALL, target)
        assert info.value.error_id == "illegal_transition"
        assert info.value.machine == "operator"
        assert "op-aoki" in str(info.value)


def test_away_is_never_left_for_on_call_or_wrap_up() -> None:
    assert OperatorState.ON_CALL not in OPERATOR_TRANSITIONS[OperatorState.AWAY]
    assert OperatorState.WRAP_UP not in OPERATOR_TRANSITIONS[OperatorState.AWAY]


def test_terminal_call_states_have_no_exit() -> None:
    assert TERMINAL_CALL_STATES == {
        CallState.ENDED, CallState.ABANDONED, CallState.OVERFLOWED, CallState.VOICEMAIL
    }
    for terminal in TERMINAL_CALL_STATES:
        for target in CallState:
            with pytest.raises(IllegalTransition) as info:
                check_call_transition("c-1", terminal, target)
            assert info.value.machine == "call"


def test_call_path_and_illegal_skip() -> None:
    path = ["ivr", "queued", "offered", "connected", "ended"]
    for old, new in pairwise(path):
        assert check_call_transition("c", CallState(old), CallState(new)) == new
    with pytest.raises(IllegalTransition):
        check_call_transition("c", CallState.QUEUED, CallState.CONNECTED)


def test_every_state_is_reachable_from_the_start() -> None:
    for table, start in ((OPERATOR_TRANSITIONS, OperatorState.OFFLINE),
                         (CALL_TRANSITIONS, CallState.IVR)):
        seen = {start}
        frontier = [start]
        while frontier:
            for nxt in table[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen == set(table)
