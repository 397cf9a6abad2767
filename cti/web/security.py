"""Every ``/api/`` route declares the roles it admits; one middleware enforces it.

``@allow(Role.SUPERVISOR, ...)`` or ``@allow_any_user`` on a handler; ``@public`` for the login
route. An ``/api/`` route without a declaration is refused (500 at the first request and a failing
test), never silently open.

Cross-site request forgery: a request authenticated by the session cookie that changes something
(POST, PUT, PATCH, DELETE) or opens the event websocket must carry an ``Origin`` header naming
this service (its own scheme, host and port, or one of ``http.allowed_origins``). Browsers send
``Origin`` on every such request and a page cannot forge it, so a page on another port of the same
host (same site: SameSite=Strict does not stop it) is refused with 403. Bearer-token requests
are not sent by browsers on their own and are not checked. We check Origin rather than issue CSRF
tokens: it needs no state, no change to the console, and it covers the websocket handshake,
where a browser cannot add a header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiohttp import hdrs, web
from yarl import URL

from cti.auth import ANY_ROLE, Principal, Role
from cti.errors import CtiError, Forbidden, NotAuthenticated
from cti.keys import AUTH, CLOCK, SETTINGS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Callable[..., Any])
SESSION_COOKIE = "cti_session"
PRINCIPAL = web.RequestKey("principal", Principal)
_ROLES_ATTR = "__cti_roles__"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


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


class CrossOriginRefused(Forbidden):
    error_id = "cross_origin_refused"


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
    now = request.app[CLOCK]()
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return await auth.from_token(header[7:].strip(), now)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await auth.from_session(cookie, now)
    return None


def _origin_key(url: URL) -> tuple[str, str, int] | None:
    if url.scheme not in DEFAULT_PORTS or not url.host:
        return None
    return url.scheme, url.host.lower(), url.port or DEFAULT_PORTS[url.scheme]


def _own_origins(request: web.Request) -> set[tuple[str, str, int]]:
    http = request.app[SETTINGS].http
    schemes = {request.scheme, "https"} if http.secure_cookie else {request.scheme}
    own: set[tuple[str, str, int]] = set()
    for scheme in schemes:
        try:
            key = _origin_key(URL(f"{scheme}://{request.host}"))
        except ValueError:
            key = None
        if key is not None:
            own.add(key)
    for text in http.allowed_origins:
        key = _origin_key(URL(text))
        if key is not None:
            own.add(key)
    return own


def check_origin(request: web.Request, *, required: bool) -> None:
    """Refuse a request whose ``Origin`` is another site's (or missing, when ``required``)."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        if required:
            raise CrossOriginRefused(
                "a write with the session cookie must come from the console (Origin header "
                "missing); scripts use a bearer token")
        return
    try:
        key = _origin_key(URL(origin))
    except ValueError:
        key = None
    if key is None or key not in _own_origins(request):
        raise CrossOriginRefused("request from another origin refused", origin=origin[:100])


def _forgeable(request: web.Request) -> bool:
    """What a cross-origin page could make a browser send with its cookie and have effect."""
    upgrade = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    return request.method in UNSAFE_METHODS or upgrade


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
    if who.via == "session" and _forgeable(request):
        check_origin(request, required=True)
    if who.role not in roles:
        raise Forbidden(f"role {who.role} may not use this route", allowed=sorted(r.value for r in roles))
    request[PRINCIPAL] = who
    return await handler(request)
