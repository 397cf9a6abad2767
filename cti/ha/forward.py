"""The standby forwards console traffic (``/api/...``, the event websocket included) to the
active node, so that a console pointed at either node works and keeps its session (sessions and
tokens live in the shared database; ``Host`` and ``Origin`` pass unchanged, so the active node's
Origin check sees the console's own origin). When the active node goes away the websocket closes,
the console reconnects, and by then this node may be the active one and answers itself.

Every response says which node produced it (``X-CTI-Node``). The active node sees the standby
as the client address: list each node in the other's ``http.trusted_proxies`` so that the login
throttle sees the console's address (``X-Forwarded-For``) and the loop guard
(``X-CTI-Forwarded``) is believed only from the other node.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import structlog
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from cti.errors import CtiError
from cti.ha.node import Role
from cti.keys import NODE, SETTINGS

log = structlog.get_logger()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FORWARD_TIMEOUT_S = 30.0
HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Content-Length", "Content-Encoding",
    "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol"))
CLIENT: web.AppKey[aiohttp.ClientSession] = web.AppKey("ha_forward_client")


class Unavailable(CtiError):
    """This node is the standby and cannot reach an active node to forward to."""

    error_id = "active_node_unavailable"
    status = 503
    fault = "upstream"


async def client_context(app: web.Application) -> AsyncIterator[None]:
    """The HTTP client the standby forwards with (only an HA pair forwards)."""
    if app[NODE].paired:
        async with aiohttp.ClientSession(auto_decompress=False) as client:
            app[CLIENT] = client
            yield
    else:
        yield


@web.middleware
async def forward_to_active(request: web.Request, handler: Handler) -> web.StreamResponse:
    node = request.app[NODE]
    if (node.paired and request.path.startswith("/api/") and node.role is Role.STANDBY
            and not _forwarded_by_peer(request)):
        active_url = await node.learn_active_url()
        if not active_url:
            raise Unavailable("this node is the standby and no node is active yet")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await _websocket(request, active_url)
        return await _http(request, active_url)
    response = await handler(request)
    return response


def _forwarded_by_peer(request: web.Request) -> bool:
    """Forwarded once already by the other node (a trusted proxy): answer here, never bounce."""
    return bool(request.headers.get("X-CTI-Forwarded")) and \
        request.remote in request.app[SETTINGS].http.trusted_proxies


def _request_headers(request: web.Request) -> CIMultiDict[str]:
    headers = CIMultiDict((k, v) for k, v in request.headers.items()
                          if k.lower() not in HOP_BY_HOP)
    peer = request.remote or ""
    earlier = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{earlier}, {peer}" if earlier else peer
    headers["X-CTI-Forwarded"] = request.app[NODE].node_id  # never forwarded twice
    return headers


async def _http(request: web.Request, base: str) -> web.StreamResponse:
    client = request.app[CLIENT]
    body = await request.read()
    try:
        async with client.request(
            request.method, base + request.path_qs, headers=_request_headers(request),
            data=body or None, allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S),
        ) as upstream:
            payload = await upstream.read()
            headers = CIMultiDict((k, v) for k, v in upstream.headers.items()
                                  if k.lower() not in HOP_BY_HOP)
            if "Content-Encoding" in upstream.headers:
                headers["Content-Encoding"] = upstream.headers["Content-Encoding"]
            return web.Response(status=upstream.status, body=payload, headers=headers)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("ha.forward_failed", path=request.path, error=type(exc).__name__)
        raise Unavailable("the active node does not answer; try again in a few seconds") from exc


async def _websocket(request: web.Request, base: str) -> web.StreamResponse:
    client = request.app[CLIENT]
    url = "ws" + base[len("http"):] + request.path_qs
    try:
        upstream = await client.ws_connect(url, headers=_request_headers(request),
                                           heartbeat=30.0, timeout=aiohttp.ClientWSTimeout(
                                               ws_receive=None, ws_close=5.0))
    except (aiohttp.ClientError, TimeoutError) as exc:
        if isinstance(exc, aiohttp.WSServerHandshakeError):  # refused there (401, 403): same here
            return web.Response(status=exc.status, text=exc.message)
        raise Unavailable("the active node does not answer; try again in a few seconds") from exc
    downstream = web.WebSocketResponse(heartbeat=30.0)
    await downstream.prepare(request)

    async def pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                   sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
        async for message in source:
            if message.type is WSMsgType.TEXT:
                await sink.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            else:
                break

    async with upstream:
        tasks = [asyncio.create_task(pump(upstream, downstream)),
                 asyncio.create_task(pump(downstream, upstream))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    await downstream.close()
    return downstream


async def say_which_node(request: web.Request, response: web.StreamResponse) -> None:
    """``X-CTI-Node`` on every response (on_response_prepare)."""
    response.headers.setdefault("X-CTI-Node", request.app[NODE].node_id)
