"""The ``cti`` command: serve, db upgrade, config check, user add, token create."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import structlog
from aiohttp import web

from cti.auth import Role, digest, hash_password, new_secret
from cti.clock import utc_now
from cti.config import ConfigError, Settings, load_settings
from cti.config.describe import describe
from cti.logging import configure_logging
from cti.storage import (
    SchemaOutdated,
    create_engine,
    current_revision,
    require_current,
    session_factory,
    upgrade,
)
from cti.storage import users as user_store
from cti.storage.users import Sessions

log = structlog.get_logger()
EXIT_CONFIG = 2
EXIT_FAILED = 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {}
    if getattr(args, "http", None):
        overrides["CTI_HTTP"] = args.http
    if getattr(args, "sip", None):
        overrides["CTI_SIP_LISTEN"] = args.sip
    try:
        settings = load_settings(args.config, {**os.environ, **overrides})
    except ConfigError as exc:
        print(f"cti: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_format)
    try:
        return _run(settings, args)
    except Refused as exc:
        print(f"cti: {exc}", file=sys.stderr)
        return exc.code


class Refused(Exception):
    """A command could not do its work; the message is for the admin, the code for the shell."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


T = TypeVar("T")


async def _with_sessions(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run ``work`` against a current database, turning the usual failures into ``Refused``."""
    engine = create_engine(settings.database.url)
    try:
        await require_current(engine)
        return await work(session_factory(engine))
    except SchemaOutdated as exc:
        raise Refused(str(exc)) from None
    except OSError as exc:
        raise Refused(f"cannot reach the database: {exc}") from None
    finally:
        await engine.dispose()


def _prompts_build(settings: Settings, folder: str | None, *, only_missing: bool) -> int:
    from pathlib import Path

    from cti.sip.prompts import build_for_menu, engine
    from cti.wiring import ivr_settings, prompt_dir

    target = Path(folder) if folder else prompt_dir()
    try:
        written = build_for_menu(target, target, ivr_settings(settings).entries,
                                 only_missing=only_missing)
    except (OSError, RuntimeError) as exc:
        raise Refused(f"cannot build prompts in {target}: {exc}") from None
    print(f"{len(written)} prompt(s) written to {target} with {engine()}")
    return 0


def _month(text: str) -> tuple[int, int]:
    match = re.match(r"^(\d{4})-(0[1-9]|1[0-2])$", text)
    if not match:
        raise Refused(f"--month must be YYYY-MM, got {text!r}", EXIT_CONFIG)
    return int(match.group(1)), int(match.group(2))


def _run(settings: Settings, args: argparse.Namespace) -> int:
    command: str = args.command
    if command == "config":
        print(json.dumps(describe(settings), ensure_ascii=False, indent=2))
        print("configuration ok", file=sys.stderr)
        return 0
    if command == "serve":
        return asyncio.run(_serve(settings))
    if command == "db":
        return asyncio.run(_db_upgrade(settings))
    if command == "user":
        return asyncio.run(_user_add(settings, args.name, Role(args.role)))
    if command == "token":
        return asyncio.run(_token_create(settings, args.name, Role(args.role)))
    if command == "prompts":
        return _prompts_build(settings, args.dir, only_missing=args.missing)
    if command == "report":
        return asyncio.run(_report(settings, args.month, args.format))
    if command == "forecast":
        return asyncio.run(_forecast(settings, args.month, as_json=args.json))
    raise AssertionError(command)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cti", description="CTI service for the city IT helpdesk")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", help="TOML file (default: $CTI_CONFIG or the shipped helpdesk.toml)")
        return p

    serve = with_config(sub.add_parser("serve", help="run the service"))
    serve.add_argument("--http", metavar="HOST:PORT", help="HTTP listen address (default 127.0.0.1:8080)")
    serve.add_argument("--sip", metavar="HOST:PORT", help="SIP listen address (default 127.0.0.1:5060)")
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    with_config(db_sub.add_parser("upgrade", help="apply migrations up to the newest"))
    config = sub.add_parser("config", help="configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    with_config(config_sub.add_parser("check", help="print the effective config, secrets masked"))
    user = sub.add_parser("user", help="console users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = with_config(user_sub.add_parser("add", help="add a user (password: $CTI_PASSWORD or prompt)"))
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    token = sub.add_parser("token", help="API tokens for scripts")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = with_config(token_sub.add_parser("create", help="print a new bearer token"))
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    forecast = with_config(sub.add_parser(
        "forecast", help="expected calls per business day and hour, operators needed per hour"))
    forecast.add_argument("--month", required=True, metavar="YYYY-MM")
    forecast.add_argument("--json", action="store_true", help="the same as GET /api/forecast")
    prompts = sub.add_parser("prompts", help="voice prompts")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True)
    build = with_config(prompts_sub.add_parser(
        "build", help="(re)generate the prompt WAVs from their texts (Open JTalk or espeak-ng)"))
    build.add_argument("--dir", help="prompt folder (default: the shipped config/prompts)")
    build.add_argument("--missing", action="store_true", help="only prompts without a WAV")
    report = with_config(sub.add_parser("report", help="the monthly response-history report"))
    report.add_argument("--month", required=True, metavar="YYYY-MM")
    report.add_argument("--format", choices=["text", "csv", "json"], default="text")
    return parser


async def _report(settings: Settings, month_text: str, fmt: str) -> int:
    from cti.reports import monthly_report

    month = _month(month_text)
    result = await _with_sessions(settings, lambda s: monthly_report(settings, s, *month))
    if fmt == "json":
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(result.to_csv() if fmt == "csv" else result.to_text())
    return 0


async def _forecast(settings: Settings, month_text: str, *, as_json: bool) -> int:
    from cti.config import BusinessCalendar
    from cti.forecasting import month_forecast
    from cti.metrics import ForecastError, render_forecast_text

    month = _month(month_text)
    try:
        result = await _with_sessions(settings, lambda s: month_forecast(
            settings, BusinessCalendar(settings.hours), s, *month, utc_now()))
    except ForecastError as exc:
        raise Refused(str(exc)) from None
    print(json.dumps(result.to_json(), ensure_ascii=False, indent=2) if as_json
          else render_forecast_text(result))
    return 0


async def _serve(settings: Settings) -> int:
    from cti.app import build_app  # imported here so that `cti config check` stays light

    runner = web.AppRunner(build_app(settings), handle_signals=False, access_log=None)
    try:
        await runner.setup()
    except SchemaOutdated as exc:
        log.error("service.schema_outdated", current=exc.current, needed=exc.head)
        print(f"cti: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        log.error("service.database_unreachable", error=str(exc))
        print(f"cti: cannot reach the database ({settings.database.url.split('@')[-1]}): {exc}",
              file=sys.stderr)
        await runner.cleanup()
        return EXIT_FAILED
    listen = settings.http.listen
    try:
        await web.TCPSite(runner, listen.host, listen.port).start()
    except OSError as exc:
        log.error("http.listen_failed", address=str(listen), error=str(exc))
        print(f"cti: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        await runner.cleanup()
        return EXIT_FAILED
    log.info("service.started", http=f"http://{listen}/", sip_mode=settings.sip.mode)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("service.stopping")
    await runner.cleanup()
    log.info("service.stopped")
    return 0


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


def _read_password(name: str) -> str:
    password = os.environ.get("CTI_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise ValueError("no password: set CTI_PASSWORD or run in a terminal")
    first = getpass.getpass(f"password for {name}: ")
    if first != getpass.getpass("again: "):
        raise ValueError("the two passwords differ")
    return first


async def _user_add(settings: Settings, name: str, role: Role) -> int:
    try:
        password = _read_password(name)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    if len(password) < 8:
        raise Refused("password must have at least 8 characters")
    password_hash = hash_password(password)
    try:
        await _with_sessions(settings, lambda s: user_store.add_user(
            s, name, role.value, password_hash, utc_now()))
    except user_store.DuplicateUser as exc:
        raise Refused(str(exc)) from None
    print(f"user {name} added with role {role.value}")
    return 0


async def _token_create(settings: Settings, name: str, role: Role) -> int:
    token = new_secret()
    await _with_sessions(settings, lambda s: user_store.add_token(
        s, name, role.value, digest(token), utc_now()))
    print(f"token {name!r} with role {role.value} (shown once, stored hashed):")
    print(token)
    return 0
