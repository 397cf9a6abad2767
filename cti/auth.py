"""Who is asking: users with roles, session cookies and bearer tokens.

Passwords are argon2 hashes; session ids and API tokens are random and stored as SHA-256 hashes,
so a copy of the database gives nobody a way in. Logins pass the throttle (cti.access.throttle)
first; a disabled user's sessions and tokens stop working at their next request.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cti.access.throttle import Lockout, LoginThrottle, Refusal
from cti.storage import users
from cti.storage.users import Sessions


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"


ANY_ROLE = frozenset(Role)
READERS = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})  # may read every record
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})  # may change how the helpdesk runs


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    via: str  # "session" or "token"
    operator_id: str | None = None  # the configured operator this user works as (users only)


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LoginResult:
    """What a login attempt came to. ``lockouts`` lists names or addresses this attempt locked."""

    session_id: str | None = None
    principal: Principal | None = None
    refused: Refusal | None = None
    lockouts: tuple[Lockout, ...] = ()


class Authenticator:
    """Checks passwords, opens and closes web sessions, resolves bearer tokens."""

    # Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
    _DUMMY_HASH = _hasher.hash("not-a-password")

    def __init__(self, sessions: Sessions, session_lifetime: timedelta,
                 throttle: LoginThrottle) -> None:
        self._sessions = sessions
        self._lifetime = session_lifetime
        self._throttle = throttle

    async def login(self, username: str, password: str, address: str, now: datetime) -> LoginResult:
        refusal = self._throttle.check(username, address, now)
        if refusal is not None:
            return LoginResult(refused=refusal)
        found = await users.find_credentials(self._sessions, username)
        stored = found.password_hash if found else self._DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, stored, password)
        if found is None or not ok or found.user.disabled:
            return LoginResult(lockouts=tuple(self._throttle.failed(username, address, now)))
        self._throttle.succeeded(username)
        session_id = new_secret()
        await users.add_web_session(
            self._sessions, digest(session_id), found.user.id, now, now + self._lifetime
        )
        return LoginResult(session_id, _principal(found.user))

    async def logout(self, session_id: str) -> None:
        await users.delete_web_session(self._sessions, digest(session_id))

    async def from_session(self, session_id: str, now: datetime) -> Principal | None:
        user = await users.find_web_session(self._sessions, digest(session_id), now)
        return None if user is None else _principal(user)

    async def from_token(self, token: str, now: datetime) -> Principal | None:
        found = await users.find_token(self._sessions, digest(token), now)
        return None if found is None else Principal(found.name, Role(found.role), "token",
                                                   found.operator_id)


def _principal(user: users.UserView) -> Principal:
    return Principal(user.username, Role(user.role), "session", user.operator_id)
