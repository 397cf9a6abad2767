"""``cti demo``: realistic calls through a running service, so a newcomer sees it work."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import re
from datetime import datetime, timedelta

import aiohttp

from cti.auth import digest, new_secret
from cti.cli.common import EXIT_CONFIG, Refused, SubParsers, with_config, with_sessions
from cti.clock import utc_now
from cti.config import Settings
from cti.demo.plan import plan_calls
from cti.demo.run import DemoResult, run_demo
from cti.storage import users as user_store

MAX_CALLS = 500


def register(sub: SubParsers) -> None:
    demo = with_config(sub.add_parser(
        "demo", help="place realistic calls through the running service (loopback) and answer them"))
    demo.add_argument("--calls", type=int, default=20, help=f"how many calls (1..{MAX_CALLS}, default 20)")
    demo.add_argument("--rate", default="1/s", help="pace, e.g. 1/s, 2/s or 30/min (default 1/s)")
    demo.add_argument("--talk", type=float, default=8.0, help="seconds a caller talks (default 8)")
    demo.add_argument("--ring", type=float, default=1.0, help="seconds an operator phone rings (default 1)")
    demo.add_argument("--seed", type=int, default=1, help="same seed, same calls (default 1)")
    demo.add_argument("--open", action="store_true",
                      help="hold the helpdesk open while the demo runs (a supervisor override, set back "
                           "to automatic at the end); without it, out of hours calls hear the closed notice")
    demo.add_argument("--url", help="the service's HTTP address (default: http.listen of the config)")
    demo.add_argument("--sip", metavar="HOST:PORT", help="the service's SIP address (default: sip.listen)")
    demo.set_defaults(run=lambda settings, args: asyncio.run(_demo(settings, args)))


def parse_rate(text: str) -> float:
    """``2/s`` -> 2.0 calls per second, ``30/min`` -> 0.5."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|min)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise Refused(f"--rate must look like 1/s or 30/min, got {text!r}", EXIT_CONFIG)
    per = 60.0 if match.group(2) == "min" else 1.0
    rate = float(match.group(1)) / per
    if rate > 50:
        raise Refused("--rate above 50/s is a load test, not a demo (see bench/)", EXIT_CONFIG)
    return rate


def _loopback(host: str, what: str) -> None:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        if host == "localhost":
            return
    raise Refused(f"the demo only calls a service on this machine; {what} is {host}", EXIT_CONFIG)


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    if not 1 <= args.calls <= MAX_CALLS:
        raise Refused(f"--calls must be 1..{MAX_CALLS}", EXIT_CONFIG)
    if not 0.5 <= args.talk <= 300 or not 0 <= args.ring <= 30:
        raise Refused("--talk must be 0.5..300 s and --ring 0..30 s", EXIT_CONFIG)
    if settings.sip.mode == "off" or not settings.operators:
        raise Refused("the demo needs SIP on and at least one operator in the config", EXIT_CONFIG)
    rate = parse_rate(args.rate)
    base_url = args.url or f"http://{settings.http.listen}"
    sip = args.sip or str(settings.sip.listen)
    host = aiohttp.client.URL(base_url).host or ""
    _loopback(host, "--url")
    _loopback(sip.rsplit(":", 1)[0].strip("[]"), "--sip")
    plan = plan_calls(args.calls, rate, settings.services, args.seed, args.talk)
    deadline = plan[-1].start_s + args.talk * 1.3 + 60

    secrets = {o.id: new_secret() for o in settings.operators}
    supervisor = new_secret()
    now = utc_now()

    async def issue(sessions: user_store.Sessions) -> None:
        for op_id, secret in secrets.items():
            await user_store.add_token(sessions, op_id, "operator", digest(secret), now,
                                       operator_id=op_id)
        await user_store.add_token(sessions, "demo", "supervisor", digest(supervisor), now)

    async def revoke(sessions: user_store.Sessions) -> None:
        for secret in [*secrets.values(), supervisor]:
            await user_store.revoke_token(sessions, digest(secret))

    await with_sessions(settings, issue)
    print(f"cti demo: {len(plan)} calls at {args.rate} to sip:{settings.sip.username}@{sip}, "
          f"{len(secrets)} operator phones on {settings.operators[0].uri.split('@')[-1]}; "
          f"watch http://{settings.http.listen}/ (stops by itself within {deadline:.0f} s)")
    try:
        if args.open:
            await _override(base_url, supervisor, "open", now + timedelta(seconds=deadline))
        result = await run_demo(settings, plan, base_url=base_url,
                                sip_target=f"sip:{settings.sip.username}@{sip}", tokens=secrets,
                                ring_s=args.ring, deadline_s=deadline)
    finally:
        if args.open:
            await _override(base_url, supervisor, "auto", None)
        await with_sessions(settings, revoke)
    _print(result)
    return 0 if result.answered == result.placed and not result.errors else 1


async def _override(base_url: str, token: str, mode: str, until: datetime | None) -> None:
    body = {"mode": mode, "until": until.isoformat() if until is not None else None}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, http.put(
            f"{base_url}/api/calendar/override", json=body,
            headers={"Authorization": f"Bearer {token}"}) as response:
        if response.status != 200:
            raise Refused(f"cannot set the hours override ({response.status}): {await response.text()}")


def _print(result: DemoResult) -> None:
    print(f"cti demo: {result.placed} placed, {result.answered} answered by the helpdesk, "
          f"{result.refused} refused, {result.operator_answered} reached an operator phone, "
          f"{result.screen_pops} screen pops, {result.tickets_completed} tickets completed "
          f"in {result.seconds} s")
    for error in result.errors:
        print(f"cti demo: problem: {error}")
