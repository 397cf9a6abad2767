"""月次報告書: the month's figures. Pure: the month's records in, numbers out.

Service level, average speed of answer and abandon rate count business hours only, with the
definitions the live Prometheus series use (``cti.metrics.definitions``): a queued call counts
when its wait ended (answer or hang-up) inside the business calendar's opening hours. Handle time
is talk time (answer to hang-up) of the answered calls; wrap-up is not recorded per call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median

from cti.config import BusinessCalendar, Settings
from cti.escalation.business_time import business_time_between
from cti.metrics.definitions import abandon_rate, answered_in_time, average, service_level
from cti.reports.history import OUTCOME_LABELS, RESOLVED, escalation_overdue
from cti.reports.period import Month
from cti.storage.reports import IncidentRecord, TicketRecord

TARGETS = ("city", "vendor")


@dataclass(frozen=True, slots=True)
class MonthData:
    """Everything the figures are computed from (read by ``cti.reports.archive.load_month``)."""

    month: Month
    records: Sequence[TicketRecord]
    last_year_received: int
    fiscal_received: Mapping[Month, int]  # months of the fiscal year up to this one
    incidents: Sequence[IncidentRecord]
    knowledge_titles: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Performance:
    counted: int  # queued calls whose wait ended in business hours
    answered: int
    answered_in_time: int
    abandoned: int
    service_level: float | None
    asa_seconds: float | None
    aht_seconds: float | None
    abandon_rate: float | None


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    service: str
    name_ja: str
    received: int
    outcomes: Mapping[str, int]
    escalated: int
    resolved: int
    performance: Performance


@dataclass(frozen=True, slots=True)
class EscalationFigures:
    target: str
    total: int
    answered: int
    open: int
    overdue: int
    median_hours_to_answer: float | None


@dataclass(frozen=True, slots=True)
class Question:
    service: str
    category: str
    count: int
    example: str  # the most frequent summary in that category
    knowledge: str  # the best-matching knowledge article's title, or ""


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: Month
    received: int
    baseline: int
    last_year_received: int
    outcomes: Mapping[str, int]
    performance: Performance
    services: Sequence[ServiceFigures]
    categories: Sequence[tuple[str, str, int]]  # service name, category, count
    business_days: Sequence[tuple[date, int]]
    closed_day_calls: int
    hours: Sequence[tuple[int, int]]  # hour of day, calls (every hour with calls or opening)
    escalations: Sequence[EscalationFigures]
    questions: Sequence[Question]
    incidents: Sequence[IncidentRecord]
    fiscal_year: Sequence[tuple[Month, int | None, int]]  # month, received (None: not yet), baseline


def performance(settings: Settings, calendar: BusinessCalendar,
                records: Sequence[TicketRecord]) -> Performance:
    threshold = settings.metrics.service_level_seconds
    waits: list[float] = []
    talks: list[float] = []
    in_time = abandoned = 0
    for r in records:
        if r.outcome == "answered" and r.wait_seconds is not None and r.answered_at is not None:
            if not calendar.status(r.answered_at).open:
                continue
            waits.append(r.wait_seconds)
            in_time += answered_in_time(r.wait_seconds, threshold)
            if r.talk_seconds is not None:
                talks.append(r.talk_seconds)
        elif r.outcome == "abandoned_queue" and r.ended_at is not None:
            if calendar.status(r.ended_at).open:
                abandoned += 1
    counted = len(waits) + abandoned
    return Performance(counted, len(waits), in_time, abandoned, service_level(in_time, counted),
                       average(waits), average(talks), abandon_rate(abandoned, len(waits)))


def month_figures(settings: Settings, calendar: BusinessCalendar, data: MonthData,
                  as_of: datetime) -> MonthFigures:
    zone = settings.hours.timezone
    records = data.records
    month = data.month
    outcomes = Counter(r.outcome for r in records if r.outcome)
    services = []
    for s in settings.services:
        mine = [r for r in records if r.service == s.id]
        services.append(ServiceFigures(
            s.id, s.name_ja, len(mine), Counter(r.outcome for r in mine if r.outcome),
            sum(1 for r in mine if r.escalations), sum(1 for r in mine if r.status in RESOLVED),
            performance(settings, calendar, mine)))
    configured = {s.id for s in settings.services}
    for gone in sorted({r.service for r in records if r.service and r.service not in configured}):
        mine = [r for r in records if r.service == gone]  # a service since removed from config
        services.append(ServiceFigures(
            gone, gone, len(mine), Counter(r.outcome for r in mine if r.outcome),
            sum(1 for r in mine if r.escalations), sum(1 for r in mine if r.status in RESOLVED),
            performance(settings, calendar, mine)))
    unchosen = [r for r in records if r.service is None]
    if unchosen:
        services.append(ServiceFigures(
            "", "サービス未選択（時間外・案内中の切断）", len(unchosen),
            Counter(r.outcome for r in unchosen if r.outcome), 0,
            sum(1 for r in unchosen if r.status in RESOLVED), performance(settings, calendar, [])))
    names = {s.id: s.name_ja for s in settings.services}
    by_category = Counter((r.service, r.category) for r in records if r.service and r.category)
    categories = sorted(((names.get(s, s), c, n) for (s, c), n in by_category.items()),
                        key=lambda x: (-x[2], x[0], x[1]))
    days = Counter(r.received_at.astimezone(zone).date() for r in records)
    start, end = month.bounds(zone)
    business = []
    day = start.date()
    while day < end.date():
        if calendar.is_business_day(day):
            business.append((day, days.get(day, 0)))
        day += timedelta(days=1)
    open_days = {d for d, _ in business}
    hours_count = Counter(r.received_at.astimezone(zone).hour for r in records)
    opening = range(settings.hours.open.hour, settings.hours.close.hour + 1)
    hours = [(h, hours_count.get(h, 0)) for h in range(24) if h in opening or hours_count.get(h)]
    questions = []
    for (service, category), count in by_category.most_common(5):
        summaries = Counter(r.summary for r in records
                            if r.service == service and r.category == category and r.summary)
        example = summaries.most_common(1)[0][0] if summaries else ""
        questions.append(Question(names.get(service or "", service or ""), category or "", count,
                                  example, data.knowledge_titles.get((service or "", category or ""), "")))
    fiscal = [(m, data.fiscal_received.get(m), settings.baseline[m.month - 1])
              for m in month.fiscal_months()]
    return MonthFigures(
        month=month, received=len(records), baseline=settings.baseline[month.month - 1],
        last_year_received=data.last_year_received, outcomes=dict(outcomes),
        performance=performance(settings, calendar, records), services=services,
        categories=categories, business_days=business,
        closed_day_calls=sum(n for d, n in days.items() if d not in open_days), hours=hours,
        escalations=escalation_figures(calendar, records, as_of), questions=questions,
        incidents=list(data.incidents), fiscal_year=fiscal)


def escalation_figures(calendar: BusinessCalendar, records: Sequence[TicketRecord],
                       as_of: datetime) -> list[EscalationFigures]:
    result = []
    escalations = [e for r in records for e in r.escalations]
    targets = [*TARGETS, *sorted({e.target for e in escalations} - set(TARGETS))]
    for target in targets:
        mine = [e for e in escalations if e.target == target]
        answered = [e for e in mine if e.answered_at is not None]
        hours = [business_time_between(calendar, e.created_at, e.answered_at).total_seconds() / 3600
                 for e in answered if e.answered_at is not None]
        result.append(EscalationFigures(
            target, len(mine), len(answered), len(mine) - len(answered),
            sum(1 for e in mine if escalation_overdue(e, as_of)),
            round(median(hours), 2) if hours else None))
    return result


def outcome_rows(figures: MonthFigures) -> list[tuple[str, str, int]]:
    """(key, label, count) for every outcome, in the contract's order."""
    return [(key, f"{ja} / {en}", figures.outcomes.get(key, 0))
            for key, (ja, en) in OUTCOME_LABELS.items()]
