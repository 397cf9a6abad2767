"""Typed settings, the business calendar and the shipped default configuration files."""

from .calendar import BusinessCalendar, CalendarStatus, HoursOverride
from .errors import ConfigError
from .settings import (
    ROLES,
    Contact,
    HostPort,
    Operator,
    Service,
    Settings,
    default_config_path,
    load_settings,
)

__all__ = [
    "ROLES",
    "BusinessCalendar",
    "CalendarStatus",
    "ConfigError",
    "Contact",
    "HostPort",
    "HoursOverride",
    "Operator",
    "Service",
    "Settings",
    "default_config_path",
    "load_settings",
]
