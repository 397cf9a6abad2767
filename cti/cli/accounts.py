"""``cti user ...`` and ``cti token ...``: console users and API tokens."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys

from cti.auth import Role, digest, hash_password, new_secret
from cti.cli.common import EXIT_CONFIG, Refused, SubParsers, with_config, with_sessions
from cti.clock import utc_now
from cti.config import Settings
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

    token = sub.add_parser("token", help="API tokens for scripts")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = with_config(token_sub.add_parser("create", help="print a new bearer token"))
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--operator", metavar="OPERATOR_ID",
                        help="the configured operator the token acts as (required for --role operator)")
    create.set_defaults(run=lambda settings, args: asyncio.run(
        _token_create(settings, args.name, Role(args.role), args.operator)))


def _check_operator(settings: Settings, role: Role, operator_id: str | None) -> None:
    """An operator works as exactly one configured operator; other roles take no calls."""
    configured = [o.id for o in settings.operators]
    if role == Role.OPERATOR and operator_id is None:
        raise Refused(f"--role operator needs --operator (one of {', '.join(configured)})",
                      EXIT_CONFIG)
    if role != Role.OPERATOR and operator_id is not None:
        raise Refused("--operator is for --role operator only", EXIT_CONFIG)
    if operator_id is not None and operator_id not in configured:
        raise Refused(f"--operator {operator_id!r} is not a configured operator "
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


async def _user_add(settings: Settings, name: str, role: Role, operator_id: str | None) -> int:
    _check_operator(settings, role, operator_id)
    try:
        password = _read_password(name)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    if len(password) < 8:
        raise Refused("password must have at least 8 characters")
    password_hash = hash_password(password)
    try:
        await with_sessions(settings, lambda s: user_store.add_user(
            s, name, role.value, password_hash, utc_now(), operator_id))
    except (user_store.DuplicateUser, user_store.OperatorTaken) as exc:
        raise Refused(str(exc)) from None
    bound = f" as operator {operator_id}" if operator_id else ""
    print(f"user {name} added with role {role.value}{bound}")
    return 0


async def _user_bind(settings: Settings, name: str, operator_id: str) -> int:
    _check_operator(settings, Role.OPERATOR, operator_id)
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


async def _token_create(settings: Settings, name: str, role: Role, operator_id: str | None) -> int:
    _check_operator(settings, role, operator_id)
    token = new_secret()
    await with_sessions(settings, lambda s: user_store.add_token(
        s, name, role.value, digest(token), utc_now(), operator_id))
    print(f"token {name!r} with role {role.value} (shown once, stored hashed):")
    print(token)
    return 0
