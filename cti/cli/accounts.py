"""``cti user ...`` and ``cti token ...``: console users and API tokens."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys

from cti.auth import Role, digest, hash_password, new_secret
from cti.cli.common import Refused, SubParsers, with_config, with_sessions
from cti.clock import utc_now
from cti.config import Settings
from cti.storage import users as user_store


def register(sub: SubParsers) -> None:
    user = sub.add_parser("user", help="console users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = with_config(user_sub.add_parser("add", help="add a user (password: $CTI_PASSWORD or prompt)"))
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.set_defaults(run=lambda settings, args: asyncio.run(_user_add(settings, args.name, Role(args.role))))

    token = sub.add_parser("token", help="API tokens for scripts")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = with_config(token_sub.add_parser("create", help="print a new bearer token"))
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.set_defaults(
        run=lambda settings, args: asyncio.run(_token_create(settings, args.name, Role(args.role))))


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
        await with_sessions(settings, lambda s: user_store.add_user(
            s, name, role.value, password_hash, utc_now()))
    except user_store.DuplicateUser as exc:
        raise Refused(str(exc)) from None
    print(f"user {name} added with role {role.value}")
    return 0


async def _token_create(settings: Settings, name: str, role: Role) -> int:
    token = new_secret()
    await with_sessions(settings, lambda s: user_store.add_token(
        s, name, role.value, digest(token), utc_now()))
    print(f"token {name!r} with role {role.value} (shown once, stored hashed):")
    print(token)
    return 0
