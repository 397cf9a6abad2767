"""``/healthz`` and ``/metrics``: open routes; the bind address decides who reaches them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cti.clock import wire_time
from cti.keys import CALL_CENTER, ENGINE, NODE, REGISTRY, SETTINGS, TICKET_WRITER
from cti.web.body import reply

routes = web.RouteTableDef()
DB_CHECK_TIMEOUT_S = 2.0


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    parts: dict[str, str] = {}
    try:
        async with asyncio.timeout(DB_CHECK_TIMEOUT_S):
            async with request.app[ENGINE].connect() as conn:
                await conn.execute(text("SELECT 1"))
        parts["db"] = "ok"
    except (TimeoutError, OSError, SQLAlchemyError) as exc:
        parts["db"] = f"error: {type(exc).__name__}"
    center = request.app[CALL_CENTER]
    sip_state = center.sip_state
    parts["sip"] = sip_state if sip_state in ("off", "direct", "registered", "starting") \
        else f"error: {sip_state}"
    socket = center.sip_socket()
    if socket is not None and not socket.bound:
        parts["sip"] = "error: SIP socket not bound"
    if socket is not None:
        parts["media"] = socket.media  # a media worker down: its calls ended, restarting
    writer = request.app[TICKET_WRITER]
    # Open route: error classes only (a database message can quote the value it refused).
    parts["tickets"] = "ok" if writer.healthy else \
        f"error: {writer.backlog_bytes} bytes waiting ({writer.last_error.split(':')[0]})"
    failing = sorted(name for name, value in parts.items() if value.startswith("error"))
    warnings: dict[str, str] = {}
    if writer.rejected_count:  # stored nowhere else: someone must look at them
        last = writer.last_rejection
        warnings["tickets_rejected"] = (
            f"{writer.rejected_count} call records set aside in {writer.rejected_path}"
            + (f" (last: {last.kind} event: {last.reason.split(':')[0]})" if last else ""))
    body: dict[str, object] = {"status": "ok" if not failing else "degraded", "failing": failing,
                               **parts}
    if warnings:
        body["warnings"] = warnings
    node = request.app[NODE]  # HA pair: which node this is and whether it takes calls
    body["node"] = {"id": node.node_id, "role": node.role.value, "paired": node.paired,
                    "epoch": node.epoch}
    if socket is not None:
        heard = socket.last_datagram_at
        body["sip_socket"] = {
            "bound": socket.bound, "local": socket.local, "send_errors": socket.send_errors,
            "last_send_error": socket.last_send_error or None, "reopened": socket.reopened,
            "datagrams_dropped": socket.datagrams_dropped,
            "last_datagram_at": None if heard is None else wire_time(
                datetime.fromtimestamp(heard, UTC), request.app[SETTINGS].hours.timezone),
        }
    return reply(body, status=200 if not failing else 503)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[REGISTRY])
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})
