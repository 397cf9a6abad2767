"""Builds the escalation service and owns its tasks, the mail sender and the overdue watch (an
aiohttp ``cleanup_ctx``).

``app.cleanup_ctx.append(escalation_context())`` after the database context; the routes in
``cti.web.escalations`` find the service under ``ESCALATIONS``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage

import structlog
from aiohttp import web

from cti.config import BusinessCalendar, Settings
from cti.escalation.mailer import Mailer
from cti.escalation.message import MailIdentity, compose
from cti.escalation.outbox import (
    BACKOFF_MAX_S,
    BACKOFF_START_S,
    IDLE_POLL_S,
    UNCERTAIN_RETRY_S,
    EscalationOutbox,
    Sends,
)
from cti.escalation.overdue import CHECK_INTERVAL_S, OverdueWatch
from cti.escalation.service import EscalationService
from cti.escalation.tokens import ReplyTokens
from cti.keys import (
    CLOCK,
    ESCALATION_OUTBOX,
    ESCALATION_OVERDUE,
    ESCALATIONS,
    FEED,
    METRICS,
    REDACTOR,
    SESSIONS,
    SETTINGS,
)
from cti.privacy.secret import service_secret
from cti.storage.escalations import EscalationView

log = structlog.get_logger()
Context = Callable[[web.Application], AsyncIterator[None]]


def token_key(settings: Settings) -> bytes:
    """The reply-token key, derived from the privacy secret (never stored in the database)."""
    return hashlib.sha256(b"cti escalation tokens|" + service_secret(settings)).digest()


def mail_identity(settings: Settings, reply_base_url: str | None = None) -> MailIdentity:
    listen = settings.http.listen
    return MailIdentity(
        sender=settings.smtp.sender,
        helpdesk_ja=settings.helpdesk_name_ja,
        helpdesk_en=settings.helpdesk_name_en,
        reply_base_url=reply_base_url or f"http://{listen}",
        zone=settings.hours.timezone,
    )


def escalation_context(
    *,
    mailer: Sends | None = None,
    reply_base_url: str | None = None,
    backoff_start_s: float = BACKOFF_START_S,
    backoff_max_s: float = BACKOFF_MAX_S,
    idle_poll_s: float = IDLE_POLL_S,
    uncertain_retry_s: float = UNCERTAIN_RETRY_S,
    overdue_check_s: float = CHECK_INTERVAL_S,
) -> Context:
    async def context(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        tokens = ReplyTokens(token_key(settings))
        identity = mail_identity(settings, reply_base_url)

        def composed(view: EscalationView) -> EmailMessage:
            return compose(view, tokens.token(view.reference, view.created_at), identity)

        outbox = EscalationOutbox(
            app[SESSIONS], mailer or Mailer.from_settings(settings), composed, app[CLOCK],
            backoff_start_s=backoff_start_s, backoff_max_s=backoff_max_s, idle_poll_s=idle_poll_s,
            uncertain_retry_s=uncertain_retry_s,
        )
        service = EscalationService(
            app[SESSIONS], settings, BusinessCalendar(settings.hours), app[REDACTOR], tokens,
            app[METRICS], app[FEED], app[CLOCK], wake_sender=outbox.wake,
        )
        await service.load_metrics()
        app[ESCALATION_OUTBOX] = outbox
        app[ESCALATIONS] = service
        watch = OverdueWatch(app[SESSIONS], app[FEED], app[CLOCK], settings.hours.timezone)
        app[ESCALATION_OVERDUE] = watch
        tasks = [asyncio.create_task(outbox.run(), name="escalation-outbox"),
                 asyncio.create_task(watch.run(overdue_check_s), name="escalation-overdue")]
        log.info("escalation.outbox_started", smtp=f"{settings.smtp.host}:{settings.smtp.port}")
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            log.info("escalation.outbox_stopped")

    return context
