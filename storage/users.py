"""Users, API tokens and web sessions. Secrets arrive here already hashed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
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
    sessions: Sessions, name: str, role: str, token_hash: str, now: datetime,
    operator_id: str | None = None,
) -> TokenView:
    async with sessions() as session:
        row = ApiToken(name=name, role=role, token_hash=token_hash, revoked=False, created_at=now,
                       operator_id=operator_id)
        session.add(row)
        await session.commit()
        return TokenView(row.id, row.name, row.role, row.operator_id)


async def find_token(sessions: Sessions, token_hash: str) -> TokenView | None:
    async with sessions() as session:
        row = await session.scalar(
            select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked.is_(False))
        )
        return None if row is None else TokenView(row.id, row.name, row.role, row.operator_id)


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
