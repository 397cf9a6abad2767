"""``cti user ...`` and ``cti token ...``: console users and API tokens.

Passwords obey the policy in ``cti.access.passwords``. Disabling a user or changing a password ends
that user's web sessions at once; a disabled user's tokens are refused at their next request.
Tokens expire after ``[auth] token_days`` unless ``--expires`` says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import re
import sys
from datetime import datetime, timedelta, tzinfo

from cti.access.passwords import judge
from cti.auth import Role, digest, hash_password, new_secret
from cti.cli.common import EXIT_CONFIG, Refused, SubParsers, with_config, with_sessions
from cti.clock import utc_now, wire_time
from cti.config import Settings
from cti.floor.roster import read_roster
from cti.storage import users as user_store


def register(sub: SubParsers) -> None:
    user = sub.add_parser("user", help="console users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = with_config(user_sub.add_parser("add", help="add a user (password: $CTI_PASSWORD or prompt)"))
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--operator", metavar="OPERATOR_ID",
                     help="the configured operator this user works as (required for --role operator)")
    add.set_defaults(run=lambda settings, args: asyncio.run(
        _user_add(settings, args.name, Role(args.role), args.operator)))
    bind = with_config(user_sub.add_parser("bind", help="bind a user to a configured operator"))
    bind.add_argument("name")
    bind.add_argument("--operator", required=True, metavar="OPERATOR_ID")
    bind.set_defaults(run=lambda settings, args: asyncio.run(
        _user_bind(settings, args.name, args.operator)))
    for command, disabled, text in (("disable", True, "refuse the user's logins, sessions and tokens"),
                                    ("enable", False, "let a disabled user log in again")):
        parser = with_config(user_sub.add_parser(command, help=text))
        parser.add_argument("name")
        parser.set_defaults(run=lambda settings, args, disabled=disabled: asyncio.run(
            _user_disable(settings, args.name, disabled)))
    passwd = with_config(user_sub.add_parser(
        "passwd", help="set a new password ($CTI_PASSWORD or prompt); ends the user's sessions"))
    passwd.add_argument("name")
    passwd.set_defaults(run=lambda settings, args: asyncio.run(_user_passwd(settings, args.name)))
    listing = with_config(user_sub.add_parser("list", help="users with role and state"))
    listing.set_defaults(run=lambda settings, args: asyncio.run(_user_list(settings)))

    token = sub.add_parser("token", help="API tokens for scripts")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = with_config(token_sub.add_parser("create", help="print a new bearer token"))
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--expires", metavar="WHEN",
                        help="30d, 12h, a date YYYY-MM-DD, or never (default: [auth] token_days)")
    create.add_argument("--user", metavar="NAME",
                        help="the user the token acts for: disabling them stops it")
    create.add_argument("--operator", metavar="OPERATOR_ID",
                        help="the configured operator the token acts as (required for --role operator)")
    create.set_defaults(run=_token_create_command)
    token_list = with_config(token_sub.add_parser("list", help="every token (never the secret)"))
    token_list.set_defaults(run=lambda settings, args: asyncio.run(_token_list(settings)))
    revoke = with_config(token_sub.add_parser("revoke", help="stop a token at once"))
    revoke.add_argument("token_id", type=int, metavar="ID", help="the id from `cti token list`")
    revoke.set_defaults(run=lambda settings, args: asyncio.run(_token_revoke(settings, args.token_id)))


async def _check_operator(settings: Settings, role: Role, operator_id: str | None) -> None:
    """An operator works as exactly one active operator (config or admin view); other roles
    take no calls."""
    if role != Role.OPERATOR and operator_id is None:
        return
    roster = await with_sessions(settings, lambda s: read_roster(s, settings))
    configured = sorted(roster.active_ids())
    if role == Role.OPERATOR and operator_id is None:
        raise Refused(f"--role operator needs --operator (one of {', '.join(configured)})",
                      EXIT_CONFIG)
    if role != Role.OPERATOR and operator_id is not None:
        raise Refused("--operator is for --role operator only", EXIT_CONFIG)
    if operator_id is not None and operator_id not in configured:
        raise Refused(f"--operator {operator_id!r} is not an active operator "
                      f"(one of {', '.join(configured)})", EXIT_CONFIG)


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


def _new_password_hash(settings: Settings, name: str) -> str:
    try:
        password = _read_password(name)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    verdict = judge(password, settings.auth, username=name,
                    context=(settings.helpdesk_name_en, settings.helpdesk_name_ja))
    if not verdict.ok:
        raise Refused(verdict.reason)
    return hash_password(password)


async def _user_add(settings: Settings, name: str, role: Role, operator_id: str | None) -> int:
    await _check_operator(settings, role, operator_id)
    password_hash = _new_password_hash(settings, name)
    try:
        await with_sessions(settings, lambda s: user_store.add_user(
            s, name, role.value, password_hash, utc_now(), operator_id))
    except (user_store.DuplicateUser, user_store.OperatorTaken) as exc:
        raise Refused(str(exc)) from None
    bound = f" as operator {operator_id}" if operator_id else ""
    print(f"user {name} added with role {role.value}{bound}")
    return 0


async def _user_bind(settings: Settings, name: str, operator_id: str) -> int:
    await _check_operator(settings, Role.OPERATOR, operator_id)
    try:
        user = await with_sessions(settings, lambda s: user_store.bind_operator(s, name, operator_id))
    except user_store.OperatorTaken as exc:
        raise Refused(str(exc)) from None
    except LookupError:
        raise Refused(f"no user {name!r}") from None
    if user.role != Role.OPERATOR:
        print(f"warning: {name} has role {user.role}, which takes no calls", file=sys.stderr)
    print(f"user {name} works as operator {operator_id}")
    return 0


async def _user_disable(settings: Settings, name: str, disabled: bool) -> int:
    if not await with_sessions(settings, lambda s: user_store.set_disabled(s, name, disabled)):
        raise Refused(f"no user {name!r}")
    print(f"user {name} {'disabled: sessions ended, tokens refused' if disabled else 'enabled'}")
    return 0


async def _user_passwd(settings: Settings, name: str) -> int:
    password_hash = _new_password_hash(settings, name)
    if not await with_sessions(settings, lambda s: user_store.change_password(s, name, password_hash)):
        raise Refused(f"no user {name!r}")
    print(f"password of {name} changed; their sessions have ended")
    return 0


async def _user_list(settings: Settings) -> int:
    for view in await with_sessions(settings, user_store.list_users):
        print(f"{view.username}\t{view.role}\t{'disabled' if view.disabled else 'active'}")
    return 0


def expiry(text: str | None, now: datetime, default_days: int, zone: tzinfo) -> datetime | None:
    """``--expires`` → the instant the token stops working (None: never)."""
    if text is None:
        return now + timedelta(days=default_days) if default_days else None
    if text == "never":
        return None
    match = re.fullmatch(r"(\d{1,5})([dh])", text)
    if match:
        amount = int(match.group(1))
        delta = timedelta(days=amount) if match.group(2) == "d" else timedelta(hours=amount)
        if delta <= timedelta(0) or delta > timedelta(days=3650):
            raise Refused("--expires must be between 1h and 3650d", EXIT_CONFIG)
        return now + delta
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise Refused(f"--expires must be 30d, 12h, YYYY-MM-DD or never, got {text!r}",
                      EXIT_CONFIG) from None
    at = day.replace(tzinfo=zone)  # the start of that day at the helpdesk
    if not now < at < now + timedelta(days=3650):
        raise Refused("--expires must be a date in the next ten years", EXIT_CONFIG)
    return at


def _token_create_command(settings: Settings, args: argparse.Namespace) -> int:
    now = utc_now()
    expires_at = expiry(args.expires, now, settings.auth.token_days, settings.hours.timezone)
    return asyncio.run(_token_create(settings, args.name, Role(args.role), expires_at, args.user,
                                     args.operator))


async def _token_create(settings: Settings, name: str, role: Role, expires_at: datetime | None,
                        username: str | None, operator_id: str | None) -> int:
    await _check_operator(settings, role, operator_id)
    token = new_secret()

    async def create(sessions: user_store.Sessions) -> None:
        user_id = None
        if username is not None:
            owner = await user_store.find_user(sessions, username)
            if owner is None:
                raise Refused(f"no user {username!r}")
            user_id = owner.id
        await user_store.add_token(sessions, name, role.value, digest(token), utc_now(),
                                   expires_at=expires_at, user_id=user_id, operator_id=operator_id)

    await with_sessions(settings, create)
    until = wire_time(expires_at, settings.hours.timezone) if expires_at else "never"
    print(f"token {name!r} with role {role.value}, expires {until} (shown once, stored hashed):")
    print(token)
    return 0


async def _token_list(settings: Settings) -> int:
    zone = settings.hours.timezone
    now = utc_now()
    print("id\tname\trole\tuser\tcreated\texpires\tstate")
    for t in await with_sessions(settings, user_store.list_tokens):
        state = "revoked" if t.revoked else (
            "expired" if t.expires_at is not None and t.expires_at <= now else "active")
        print(f"{t.id}\t{t.name}\t{t.role}\t{t.user or '-'}\t{wire_time(t.created_at, zone)}\t"
              f"{wire_time(t.expires_at, zone) if t.expires_at else 'never'}\t{state}")
    return 0


async def _token_revoke(settings: Settings, token_id: int) -> int:
    if not await with_sessions(settings, lambda s: user_store.revoke_token_by_id(s, token_id)):
        raise Refused(f"no token with id {token_id}")
    print(f"token {token_id} revoked")
    return 0
