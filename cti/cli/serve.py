"""``cti serve``, ``cti db upgrade`` and ``cti config check``: running the service."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from cti import runtime
from cti.cli.common import EXIT_FAILED, Refused, SubParsers, with_config, with_sessions
from cti.config import Settings
from cti.config.describe import describe
from cti.config.settings import SipSettings
from cti.floor.bindings import BindingProblem, check_bindings
from cti.storage import SchemaOutdated, create_engine, current_revision, upgrade

log = structlog.get_logger()
DATABASE_CHECK_S = 5.0


def register(sub: SubParsers) -> None:
    serve = with_config(sub.add_parser("serve", help="run the service"))
    serve.add_argument("--http", metavar="HOST:PORT", help="HTTP listen address (default 127.0.0.1:8080)")
    serve.add_argument("--sip", metavar="HOST:PORT", help="SIP listen address (default 127.0.0.1:5060)")
    serve.add_argument("--node-id", metavar="NAME",
                       help="this node's name in an HA pair (PostgreSQL; default: ha.node_id, "
                            "none: one node, always active)")
    serve.set_defaults(run=lambda settings, args: runtime.run(_serve(settings)))

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade_cmd = with_config(db_sub.add_parser("upgrade", help="apply migrations up to the newest"))
    upgrade_cmd.set_defaults(run=lambda settings, args: asyncio.run(_db_upgrade(settings)))

    config = sub.add_parser("config", help="configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = with_config(config_sub.add_parser("check", help="print the effective config, secrets masked"))
    check.set_defaults(run=_config_check)


def _config_check(settings: Settings, args: argparse.Namespace) -> int:
    print(json.dumps(describe(settings), ensure_ascii=False, indent=2))
    print("configuration ok", file=sys.stderr)
    for warning in capacity_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    try:
        problems = asyncio.run(_binding_problems(settings))
    except (Refused, OSError, TimeoutError, SQLAlchemyError) as exc:
        print(f"users not checked (database: {str(exc)[:200]})", file=sys.stderr)
        return 0
    for problem in problems:
        print(f"warning: {problem.message}", file=sys.stderr)
    if not problems:
        print("users and operators ok", file=sys.stderr)
    return 0


def capacity_warnings(settings: Settings) -> list[str]:
    """Where the SIP limits do not fit together: every call takes an even RTP port (and the odd
    one above for RTCP), and one more pair while it rings or talks to an operator; the Python
    media core where the C one should run; more calls than the media workers keep on time; and
    media workers whose priority cannot be raised as configured."""
    sip = settings.sip
    if sip.mode == "off":
        return []
    from cti.sip.media import CALLS_ON_TIME, calls_on_time, may_lower_priority
    from cti.sip.media.core import env_problem
    from cti.sip.media.rtp import core_name

    low, high = sip.rtp_ports
    pairs = sum(1 for port in range(low, high) if port % 2 == 0)
    media = [problem] if (problem := env_problem()) is not None else []
    core = core_name()
    if core != "c":
        media.append("the media core is Python: the C one (sip/media/_core.c) is not built, or "
                     "CTI_MEDIA_CORE=python is set; it keeps about half as many callers' audio on "
                     "time. Install gcc and the Python headers (Debian: build-essential "
                     "python3-dev), then reinstall (`rm .venv/.installed && make run` from a "
                     "checkout, or pip install .)")
    by_ports = pairs // 2  # calls the range holds, each with an operator leg
    calls = min(sip.max_calls, by_ports) if sip.max_calls else by_ports
    if calls > (on_time := calls_on_time(sip.media_workers, core)):
        where = (f"{sip.media_workers} media worker(s)" if sip.media_workers > 0
                 else "media on the service's own loop (sip.media_workers = 0)")
        cap = f"{sip.max_calls}" if sip.max_calls else "0 (no cap: the RTP range caps)"
        media.append(f"sip.max_calls = {cap} allows {calls} calls at once, "
                     f"but {where} on the {core} media core kept only about {on_time} callers' "
                     "audio on time on the 2-core reference machine (bench/RESULTS.md): beyond "
                     f"that every caller hears gaps; give each {CALLS_ON_TIME[core][0]} calls a "
                     "media worker and a core (sip.media_workers)")
    if sip.media_workers > 0 and not may_lower_priority(sip.media_nice):
        media.append(f"sip.media_nice = {sip.media_nice}, but this user may not lower a nice "
                     "value (root, CAP_SYS_NICE or systemd's LimitNICE= / AmbientCapabilities="
                     "CAP_SYS_NICE): the media workers will run at normal priority")
    return _rtp_warnings(sip, pairs) + media


def _rtp_warnings(sip: SipSettings, pairs: int) -> list[str]:
    low, high = sip.rtp_ports
    if sip.max_calls == 0:
        return [f"sip.max_calls = 0 (no cap): the RTP range {low}-{high} ({pairs} port pairs) "
                f"holds {pairs // 2} calls with operator legs; more callers get 503"]
    if 2 * sip.max_calls > pairs:
        return [f"sip.rtp_ports {low}-{high} has {pairs} port pairs, but sip.max_calls = "
                f"{sip.max_calls} needs {2 * sip.max_calls} (a pair per caller and per operator "
                f"leg): callers beyond {pairs // 2} get 503"]
    return []


async def _binding_problems(settings: Settings) -> list[BindingProblem]:
    """Users against the operators table (config + admin view), when the database is there
    (bounded wait)."""
    async with asyncio.timeout(DATABASE_CHECK_S):
        return await with_sessions(settings, lambda s: check_bindings(s, settings))


async def _serve(settings: Settings) -> int:
    from cti.app import StartupFailed, build_app  # here, so that `cti config check` stays light
    from cti.web.server import runner_options

    runner = web.AppRunner(build_app(settings), handle_signals=False, access_log=None,
                           **runner_options(settings))
    try:
        await runner.setup()
    except SchemaOutdated as exc:
        log.error("service.schema_outdated", current=exc.current, needed=exc.head)
        print(f"cti: {exc}", file=sys.stderr)
        await runner.cleanup()
        return EXIT_FAILED
    except StartupFailed as exc:  # each part says which it is: database, journal, SIP port
        log.error("service.start_failed", part=exc.part, failed=exc.what, error=exc.detail)
        print(f"cti: cannot start, {exc}", file=sys.stderr)
        await runner.cleanup()
        return EXIT_FAILED
    listen = settings.http.listen
    try:
        await web.TCPSite(runner, listen.host, listen.port).start()
    except OSError as exc:
        log.error("service.start_failed", part="HTTP port", failed=f"cannot listen on {listen}",
                  error=exc.strerror or str(exc))
        print(f"cti: cannot start, HTTP port: cannot listen on {listen} (tcp): "
              f"{exc.strerror or exc}", file=sys.stderr)
        await runner.cleanup()
        return EXIT_FAILED
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before "started": a signal right after it is clean
        loop.add_signal_handler(sig, stop.set)
    log.info("service.started", http=f"http://{listen}/", sip_mode=settings.sip.mode,
             event_loop=type(loop).__module__.split(".")[0], gc=runtime.settle_gc())
    print(await _welcome(settings, runner.app), file=sys.stderr, flush=True)
    await stop.wait()
    log.info("service.stopping")
    await runner.cleanup()
    log.info("service.stopped")
    return 0


async def _welcome(settings: Settings, app: web.Application) -> str:
    """What a person starting the service needs to know, and nothing else."""
    from cti.keys import SESSIONS
    from cti.storage.users import count_users

    sip = settings.sip
    lines = ["", "cti is running. / cti が起動しました。",
             f"  console / コンソール:  http://{settings.http.listen}/",
             f"  metrics:               http://{settings.http.listen}/metrics"]
    if sip.mode == "off":
        lines.append("  SIP:                   off")
    else:
        lines.append(f"  SIP ({sip.mode}):  sip:{sip.username}@{sip.listen} (UDP)")
        if sip.also_listen is not None:
            lines.append(f"                        sip:{sip.username}@{sip.also_listen} (UDP)")
    if await count_users(app[SESSIONS]) == 0:
        lines += ["  No console user yet. Create the first one (in another terminal):",
                  "    .venv/bin/cti user add admin --role admin"]
    lines.append("  Stop with Ctrl-C. / 停止は Ctrl-C。")
    return "\n".join(lines) + "\n"


async def _db_upgrade(settings: Settings) -> int:
    engine = create_engine(settings.database.url)
    try:
        await upgrade(engine)
        revision = await current_revision(engine)
    except OSError as exc:
        print(f"cti: cannot reach the database: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await engine.dispose()
    print(f"database schema at revision {revision}")
    return 0
