"""Puts the demo together: operator phones and desks up, the planned calls placed on time,
everything ended by a deadline. Returns what happened, for the command to print."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import aiohttp
import structlog

from cti.config import Settings
from cti.demo.desks import DeskCounts, OperatorDesk
from cti.demo.phones import DemoPhones, Dialog
from cti.demo.plan import Behaviour, PlannedCall
from cti.sip.message import uri_hostport, uri_user

log = structlog.get_logger()
MENU_S = 1.5  # the caller listens to the greeting a little before pressing a digit


@dataclass(frozen=True, slots=True)
class DemoResult:
    placed: int
    answered: int
    refused: int
    operator_answered: int
    screen_pops: int
    tickets_completed: int
    errors: tuple[str, ...]
    seconds: float


async def run_demo(settings: Settings, plan: list[PlannedCall], *, base_url: str, sip_target: str,
                   tokens: dict[str, str], ring_s: float, deadline_s: float) -> DemoResult:
    started = time.monotonic()
    operator_users = {uri_user(o.uri): o for o in settings.operators}
    phone_hosts = {uri_hostport(o.uri) for o in settings.operators}
    if len(phone_hosts) != 1:
        raise ValueError("the demo runs every operator phone on one address; the config's operator "
                         f"URIs use {len(phone_hosts)} addresses")
    (phone_host, phone_port), = phone_hosts
    operators = DemoPhones(phone_host, frozenset(operator_users), ring_s)
    await operators.open(phone_port)
    callers = DemoPhones("127.0.0.1", frozenset(), ring_s)
    await callers.open()
    counts = DeskCounts()
    by_call: dict[str, PlannedCall] = {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            desks = [OperatorDesk(http, base_url, op_id, token, by_call.get, counts,
                                  type_s=min(2.0, plan[0].hold_s / 2))
                     for op_id, token in tokens.items()]
            for desk in desks:
                await desk.open()
            listeners = [asyncio.create_task(d.listen()) for d in desks]
            calls = [asyncio.create_task(_call(callers, p, sip_target, by_call, started)) for p in plan]
            done, pending = await asyncio.wait(calls, timeout=deadline_s)
            for task in pending:
                task.cancel()
            results = [t.result() for t in done if not t.cancelled() and t.exception() is None]
            errors = [repr(t.exception()) for t in done if not t.cancelled() and t.exception()]
            if pending:
                errors.append(f"{len(pending)} call(s) still going at the {deadline_s:.0f} s deadline")
            await callers.close()
            for desk in desks:
                await desk.close()
            for listener in listeners:
                listener.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
    finally:
        with contextlib.suppress(Exception):
            await callers.close()
        await operators.close()
    return DemoResult(
        placed=len(plan), answered=sum(1 for r in results if r == 200),
        refused=sum(1 for r in results if r >= 300), operator_answered=operators.answered_by_operator,
        screen_pops=counts.screen_pops, tickets_completed=counts.tickets_completed,
        errors=tuple(errors + counts.errors), seconds=round(time.monotonic() - started, 1))


async def _call(phones: DemoPhones, plan: PlannedCall, target: str, by_call: dict[str, PlannedCall],
                started: float) -> int:
    delay = plan.start_s - (time.monotonic() - started)
    if delay > 0:
        await asyncio.sleep(delay)  # the plan's pace: callers do not all ring at once
    dialog: Dialog = await phones.dial(plan.caller, target)
    by_call[dialog.call_id] = plan
    if dialog.final_status != 200:
        return dialog.final_status
    log.info("demo.call_answered", call=plan.number, behaviour=plan.behaviour.value)
    await _wait_or_end(dialog, MENU_S)
    if plan.behaviour is Behaviour.HANG_UP_IN_MENU:
        await phones.hang_up(dialog)
        return 200
    if not dialog.ended.is_set():
        await phones.send_digit(dialog, plan.digit)
    if plan.behaviour is Behaviour.CALLBACK:
        await _wait_or_end(dialog, min(3.0, plan.hold_s))
        if not dialog.ended.is_set():
            await phones.send_digit(dialog, "*")
        await _wait_or_end(dialog, 15.0)  # the service thanks the caller and hangs up
    else:
        await _wait_or_end(dialog, plan.hold_s)
    await phones.hang_up(dialog)
    return 200


async def _wait_or_end(dialog: Dialog, seconds: float) -> None:
    """The caller stays ``seconds`` on the line, or less if the service hangs up first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(dialog.ended.wait(), timeout=seconds)
