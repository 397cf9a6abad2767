"""Typed keys for the objects the application shares (aiohttp "no singletons" data sharing)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cti.auth import Authenticator
from cti.clock import Clock
from cti.config import Settings
from cti.hours import HelpdeskHours

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
AUTH = web.AppKey("auth", Authenticator)
HOURS = web.AppKey("hours", HelpdeskHours)
REGISTRY = web.AppKey("registry", CollectorRegistry)
