"""Users, API tokens and web sessions. Secrets arrive here already hashed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .tables import ApiToken, User, WebSession

Sessions = async_sessionmaker[AsyncSession]


class DuplicateUser(ValueError):
    def __init__(self, username: str) -> None:
        super().__init__(f"user {username!r} already exists")
        self.username = username


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    username: str
    role: str
    disabled: bool
    operator_id: str | None = None


class OperatorTaken(ValueError):
    def __init__(self, operator_id: str) -> None:
        super().__init__(f"operator {operator_id!r} is already bound to another user")
        self.operator_id = operator_id


@dataclass(frozen=True, slots=True)
class Credentials:
    user: UserView
    password_hash: str


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    name: str
    role: str
    operator_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenListing:
    id: int
    name: str
    role: str
    user: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


def _view(row: User) -> UserView:
    return UserView(row.id, row.username, row.role, row.disabled, row.operator_id)


async def add_user(
    sessions: Sessions, username: str, role: str, password_hash: str, now: datetime,
    operator_id: str | None = None,
) -> UserView:
    async with sessions() as session:
        if operator_id is not None and await session.scalar(
                select(User.id).where(User.operator_id == operator_id)) is not None:
            raise OperatorTaken(operator_id)
        row = User(username=username, role=role, password_hash=password_hash, disabled=False,
                   created_at=now, operator_id=operator_id)
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:
            raise DuplicateUser(username) from None
        return _view(row)


async def list_users(sessions: Sessions) -> list[UserView]:
    async with sessions() as session:
        rows = (await session.scalars(select(User).order_by(User.username))).all()
        return [_view(row) for row in rows]


async def bind_operator(sessions: Sessions, username: str, operator_id: str | None) -> UserView:
    """Bind (or with None, unbind) a user to a configured operator id."""
    async with sessions() as session:
        row = await session.scalar(select(User).where(User.username == username))
        if row is None:
            raise LookupError(username)
        if operator_id is not None and await session.scalar(select(User.id).where(
                User.operator_id == operator_id, User.id != row.id)) is not None:
            raise OperatorTaken(operator_id)
        row.operator_id = operator_id
        await session.commit()
        return _view(row)


async def set_password(sessions: Sessions, username: str, password_hash: str, role: str) -> bool:
    async with sessions() as session:
        row = await session.scalar(select(User).where(User.username == username))
        if row is None:
            return False
        row.password_hash = password_hash
        row.role = role
        await session.commit()
        return True


async def find_credentials(sessions: Sessions, username: str) -> Credentials | None:
    async with sessions() as session:
        row = await session.scalar(select(User).where(User.username == username))
        return None if row is None else Credentials(_view(row), row.password_hash)


async def count_users(sessions: Sessions) -> int:
    async with sessions() as session:
        return len((await session.scalars(select(User.id))).all())


async def add_token(
    sessions: Sessions, name: str, role: str, token_hash: str, now: datetime, *,
    expires_at: datetime | None = None, user_id: int | None = None, operator_id: str | None = None,
) -> TokenView:
    async with sessions() as session:
        row = ApiToken(name=name, role=role, token_hash=token_hash, revoked=False, created_at=now,
                       expires_at=expires_at, user_id=user_id, operator_id=operator_id)
        session.add(row)
        await session.commit()
        return TokenView(row.id, row.name, row.role, row.operator_id)


async def find_token(sessions: Sessions, token_hash: str,
                     now: datetime | None = None) -> TokenView | None:
    """A token that is not revoked, not expired at ``now`` (default: the current time) and whose
    user, if it has one, is not disabled."""
    at = now or datetime.now(UTC)
    async with sessions() as session:
        row = await session.scalar(
            select(ApiToken)
            .outerjoin(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash, ApiToken.revoked.is_(False),
                   or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > at),
                   or_(ApiToken.user_id.is_(None), User.disabled.is_(False)))
        )
        return None if row is None else TokenView(row.id, row.name, row.role, row.operator_id)


async def list_tokens(sessions: Sessions) -> list[TokenListing]:
    async with sessions() as session:
        rows = (await session.execute(
            select(ApiToken, User.username).outerjoin(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.id))).all()
    return [TokenListing(t.id, t.name, t.role, username, t.created_at, t.expires_at, t.revoked)
            for t, username in rows]


async def revoke_token_by_id(sessions: Sessions, token_id: int) -> bool:
    """``cti token revoke ID``: the token stops working at once; False when there is no such id."""
    async with sessions() as session:
        result = await session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(revoked=True))
        await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def find_user(sessions: Sessions, username: str) -> UserView | None:
    async with sessions() as session:
        row = await session.scalar(select(User).where(User.username == username))
        return None if row is None else _view(row)


async def _change_user(sessions: Sessions, username: str, *, end_sessions: bool,
                       **values: object) -> bool:
    """Set columns of one user (False if there is none), optionally ending their web sessions."""
    async with sessions() as session:
        result = await session.execute(
            update(User).where(User.username == username).values(**values).returning(User.id))
        user_id = result.scalar_one_or_none()
        if user_id is not None and end_sessions:
            await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        await session.commit()
        return user_id is not None


async def set_disabled(sessions: Sessions, username: str, disabled: bool) -> bool:
    """Disable (ending every web session of the user) or enable a user; False if no such user."""
    return await _change_user(sessions, username, end_sessions=disabled, disabled=disabled)


async def change_password(sessions: Sessions, username: str, password_hash: str) -> bool:
    """A new password hash; every web session of the user ends. False if no such user."""
    return await _change_user(sessions, username, end_sessions=True, password_hash=password_hash)


async def add_web_session(
    sessions: Sessions, id_hash: str, user_id: int, now: datetime, expires_at: datetime
) -> None:
    async with sessions() as session:
        session.add(WebSession(id_hash=id_hash, user_id=user_id, created_at=now,
                               expires_at=expires_at))
        await session.commit()


async def find_web_session(sessions: Sessions, id_hash: str, now: datetime) -> UserView | None:
    async with sessions() as session:
        row = await session.scalar(
            select(User)
            .join(WebSession, WebSession.user_id == User.id)
            .where(WebSession.id_hash == id_hash, WebSession.expires_at > now,
                   User.disabled.is_(False))
        )
        return None if row is None else _view(row)


async def delete_web_session(sessions: Sessions, id_hash: str) -> None:
    async with sessions() as session:
        await session.execute(delete(WebSession).where(WebSession.id_hash == id_hash))
        await session.commit()


async def revoke_token(sessions: Sessions, token_hash: str) -> bool:
    """The token stops working at once; False when there was no such token."""
    async with sessions() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
        if row is None:
            return False
        row.revoked = True
        await session.commit()
        return True
