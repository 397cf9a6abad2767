"""Every response says how a browser may use it: CSP (self only), no sniffing, no framing, no
referrer; the session cookie is Secure when the service is served over HTTPS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from cti.app import build_app
from cti.auth import hash_password
from cti.keys import SESSIONS
from cti.storage import users

Client = TestClient  # type: ignore[type-arg]


async def test_security_headers_on_pages_api_and_errors(client: Client) -> None:
    for path in ("/console/", "/console/console.js", "/api/session", "/healthz", "/nothing"):
        response = await client.get(path)
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert "Strict-Transport-Security" not in headers  # plain HTTP: no HSTS
    api = await client.get("/api/session")
    assert api.headers["Cache-Control"] == "no-store"


async def test_the_console_has_no_inline_script_or_style(client: Client) -> None:
    page = await (await client.get("/console/")).text()
    assert "<script>" not in page and "<style" not in page and " style=" not in page
    assert " onclick=" not in page.lower() and "javascript:" not in page.lower()


async def test_cookie_is_secure_when_served_over_https(
    aiohttp_client: Callable[..., Any], database_url: str, make_settings: Callable[..., Any],
) -> None:
    plain: Client = await aiohttp_client(build_app(make_settings(database_url)))
    await users.add_user(plain.app[SESSIONS], "op01", "operator",
                         hash_password("yuki-kaban-tokei-31"), _now())
    login = {"username": "op01", "password": "yuki-kaban-tokei-31"}
    cookie = (await plain.post("/api/session", json=login)).headers["Set-Cookie"]
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie

    https = make_settings(database_url, CTI_HTTP_SECURE_COOKIE="true")
    proxied: Client = await aiohttp_client(build_app(https))
    response = await proxied.post("/api/session", json=login)
    assert "; Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
