"""Every ``/api/`` route declares the roles it admits; one middleware enforces it.

``@allow(Role.SUPERVISOR, ...)`` or ``@allow_any_user`` on a handler; ``@public`` for the login
route. An ``/api/`` route without a declaration is refused (500 at the first request and a failing
test), never silently open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiohttp import web

from cti.auth import ANY_ROLE, Principal, Role
from cti.errors import CtiError, Forbidden, NotAuthenticated
from cti.keys import AUTH, CLOCK

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Callable[..., Any])
SESSION_COOKIE = "cti_session"
PRINCIPAL = web.RequestKey("principal", Principal)
_ROLES_ATTR = "__cti_roles__"


def allow(*roles: Role) -> Callable[[H], H]:
    def mark(handler: H) -> H:
        setattr(handler, _ROLES_ATTR, frozenset(roles))
        return handler

    return mark


def allow_roles(roles: Iterable[Role]) -> Callable[[H], H]:
    return allow(*roles)


allow_any_user = allow_roles(ANY_ROLE)


def public(handler: H) -> H:
    setattr(handler, _ROLES_ATTR, None)
    return handler


def declared_roles(handler: Any) -> frozenset[Role] | None:
    """The roles a handler admits; None for public; raises if the handler declares nothing."""
    if not hasattr(handler, _ROLES_ATTR):
        raise LookupError(f"{getattr(handler, '__qualname__', handler)} declares no roles")
    roles: frozenset[Role] | None = getattr(handler, _ROLES_ATTR)
    return roles


class UndeclaredRoute(CtiError):
    error_id = "route_without_roles"


def operator_of(who: Principal) -> str:
    """The operator id a user with role operator works as; refuses an unbound user."""
    if who.operator_id is None:
        raise Forbidden(f"user {who.name!r} is not bound to an operator: "
                        f"cti user add {who.name} --role operator --operator OPERATOR_ID")
    return who.operator_id


def principal(request: web.Request) -> Principal:
    found = request.get(PRINCIPAL)
    if found is None:
        raise NotAuthenticated("login required")
    return found


async def identify(request: web.Request) -> Principal | None:
    auth = request.app[AUTH]
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return await auth.from_token(header[7:].strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await auth.from_session(cookie, request.app[CLOCK]())
    return None


@web.middleware
async def require_roles(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    original = request.match_info.handler
    if isinstance(request.match_info.http_exception, web.HTTPException):
        return await handler(request)  # 404/405 from the router itself
    try:
        roles = declared_roles(original)
    except LookupError as exc:
        raise UndeclaredRoute(str(exc)) from None
    if roles is None:
        return await handler(request)
    who = await identify(request)
    if who is None:
        raise NotAuthenticated("login required: a session cookie or a bearer token")
    if who.role not in roles:
        raise Forbidden(f"role {who.role} may not use this route", allowed=sorted(r.value for r in roles))
    request[PRINCIPAL] = who
    return await handler(request)
