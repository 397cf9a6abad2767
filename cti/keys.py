"""Typed keys for the objects the application shares (aiohttp "no singletons" data sharing)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cti.auth import Authenticator
from cti.calls.center import CallCenter
from cti.clock import Clock
from cti.config import Settings
from cti.escalation.outbox import EscalationOutbox
from cti.escalation.overdue import OverdueWatch
from cti.escalation.service import EscalationService
from cti.floor.feed import ConsoleFeed
from cti.floor.hours import HelpdeskHours
from cti.floor.incidents import IncidentBoard
from cti.floor.roster import Roster
from cti.ha.node import Node
from cti.metrics import CtiMetrics
from cti.privacy.caller_id import CallerIdPolicy
from cti.privacy.redaction import Redactor
from cti.reports.schedule import ReportSchedule
from cti.tickets.writer import TicketWriter

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
AUTH = web.AppKey("auth", Authenticator)
HOURS = web.AppKey("hours", HelpdeskHours)
REGISTRY = web.AppKey("registry", CollectorRegistry)
REDACTOR = web.AppKey("redactor", Redactor)
CALLER_IDS = web.AppKey("caller_ids", CallerIdPolicy)
TICKET_WRITER = web.AppKey("ticket_writer", TicketWriter)
METRICS = web.AppKey("metrics", CtiMetrics)
FEED = web.AppKey("feed", ConsoleFeed)
CALL_CENTER = web.AppKey("call_center", CallCenter)
INCIDENTS = web.AppKey("incidents", IncidentBoard)
ROSTER = web.AppKey("roster", Roster)
CONSOLE_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("console_sockets")
ESCALATIONS = web.AppKey("escalations", EscalationService)
ESCALATION_OUTBOX = web.AppKey("escalation_outbox", EscalationOutbox)
ESCALATION_OVERDUE = web.AppKey("escalation_overdue", OverdueWatch)
REPORT_SCHEDULE = web.AppKey("report_schedule", ReportSchedule)
NODE = web.AppKey("node", Node)
