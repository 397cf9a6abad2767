"""``cti ha status`` and ``cti ha handover``: the active/standby pair, from the database.

Both work with database access only (no console token): the lease row says who is active, and a
handover is a flag on that row which the active node acts on at its next renewal (it stops
taking new calls, gives the lease up; its calls in progress finish there), after which the
standby takes the lease within one renewal interval.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from cti.cli.common import Refused, SubParsers, with_config, with_sessions
from cti.config import Settings
from cti.ha.wiring import shared_database
from cti.storage import lease as lease_rows
from cti.storage.users import Sessions

HANDOVER_WAIT_S = 30.0


def register(sub: SubParsers) -> None:
    ha = sub.add_parser("ha", help="the active/standby pair (PostgreSQL only)")
    ha_sub = ha.add_subparsers(dest="ha_command", required=True)
    status = with_config(ha_sub.add_parser("status", help="which node is active, lease, epoch"))
    status.set_defaults(run=lambda settings, args: asyncio.run(_status(settings)))
    handover = with_config(ha_sub.add_parser(
        "handover", help="planned switch-over: the standby takes new calls, calls in progress "
                         "finish on the old active node"))
    handover.add_argument("--wait", type=float, default=HANDOVER_WAIT_S, metavar="SECONDS",
                          help="how long to wait for the standby to take over "
                               f"(default {HANDOVER_WAIT_S:.0f})")
    handover.set_defaults(run=lambda settings, args: asyncio.run(_handover(settings, args)))


def _require_pair(settings: Settings) -> None:
    if not shared_database(settings):
        raise Refused("one node on SQLite: it is always active (an HA pair needs PostgreSQL)")


async def _status(settings: Settings) -> int:
    _require_pair(settings)

    async def work(sessions: Sessions) -> str:
        row, db_now = await lease_rows.read(sessions)
        calls = await lease_rows.unfinished_calls(sessions)
        if row is None or row.epoch == 0:
            return f"no node has been active yet\nunfinished calls: {calls}"
        if row.holder is None:
            holder = f"none (released by {row.previous_holder})"
        elif row.expires_at is not None and row.expires_at <= db_now:
            holder = f"{row.holder} (lease EXPIRED {(db_now - row.expires_at).total_seconds():.1f} s ago)"
        else:
            left = (row.expires_at - db_now).total_seconds() if row.expires_at else 0.0
            holder = f"{row.holder} (lease {left:.1f} s left)"
        lines = [f"active: {holder}", f"epoch: {row.epoch}",
                 f"previous: {row.previous_holder or '-'}",
                 f"handover requested: {'yes' if row.handover_requested else 'no'}",
                 f"unfinished calls: {calls}"]
        return "\n".join(lines)

    print(await with_sessions(settings, work))
    return 0


async def _handover(settings: Settings, args: argparse.Namespace) -> int:
    _require_pair(settings)

    async def work(sessions: Sessions) -> str:
        before = await lease_rows.request_handover(sessions)
        if before is None:
            raise Refused("no node holds the lease: nothing to hand over")
        print(f"asked {before.holder} (epoch {before.epoch}) to hand over ...", flush=True)
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            row, _ = await lease_rows.read(sessions)
            if row is not None and row.holder not in (None, before.holder):
                return f"{row.holder} is active (epoch {row.epoch})"
            await asyncio.sleep(0.2)
        row, _ = await lease_rows.read(sessions)
        raise Refused(f"no standby took over within {args.wait:.0f} s (lease: "
                      f"{row.holder if row else None}); is the other node running?")

    print(await with_sessions(settings, work))
    return 0
