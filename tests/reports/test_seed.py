"""The fixture generator: deterministic, the 2022 shape, plausible proportions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from cti.config import BusinessCalendar, ConfigError, Settings
from cti.reports.period import Month
from cti.reports.seed import VOLUMES_2022, seed_calls
from cti.tickets.rules import derive


def test_the_same_seed_gives_the_same_month_and_another_seed_another(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    first, _ = seed_calls(settings, Month(2027, 4), 11)
    again, _ = seed_calls(settings, Month(2027, 4), 11)
    other, _ = seed_calls(settings, Month(2027, 4), 12)
    assert first == again
    assert [c.events[0].at for c in first] != [c.events[0].at for c in other]


def test_a_year_has_the_2022_shape_and_plausible_proportions(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    zone = settings.hours.timezone
    calendar = BusinessCalendar(settings.hours)
    for number, volume in enumerate(VOLUMES_2022, start=1):
        month = Month(2027, number)
        calls, incident = seed_calls(settings, month, 1)
        assert len(calls) == volume
        start, end = month.bounds(zone)
        facts = [derive(c.events) for c in calls]
        assert all(start <= f.received_at < end for f in facts)
        outcomes = Counter(f.outcome for f in facts)
        assert 0.70 < outcomes["answered"] / volume < 0.90, outcomes
        assert 0.02 < outcomes["after_hours"] / volume < 0.08
        assert all(not calendar.status(f.received_at).open for f in facts if f.outcome == "after_hours")
        assert all(calendar.status(f.received_at).open for f in facts if f.outcome != "after_hours")
        assert incident is not None and start <= incident < end
        if number == 4:
            hours = Counter(f.received_at.astimezone(zone).hour for f in facts)
            assert hours[9] > hours[12] < hours[13]  # morning peak, lunch dip
            services = Counter(f.service for f in facts if f.service)
            assert services.most_common(1)[0][0] == "isolation"
            escalated = sum(1 for c in calls if c.escalations)
            assert 0.04 < escalated / volume < 0.15


def test_report_settings_are_checked(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(CTI_REPORTS_RECIPIENTS="a@example.invalid, b@example.invalid")
    assert settings.reports.recipients == ("a@example.invalid", "b@example.invalid")
    with pytest.raises(ConfigError, match=r"reports\.recipients"):
        make_settings(CTI_REPORTS_RECIPIENTS="city office")
    with pytest.raises(ConfigError, match=r"reports\.convert_timeout_seconds"):
        make_settings(CTI_REPORTS_CONVERT_TIMEOUT_SECONDS="1")
