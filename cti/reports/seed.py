"""``cti seed-month``: a realistic, invented month of calls for tests and demos.

Shaped on the helpdesk's 2022 volumes (705 calls in April, 130 in February), arriving over the
business day like the forecast's hourly profile, with services, categories, outcomes and
escalations in plausible proportions, a few calls outside business hours and one incident
notice. Deterministic: the same seed and month give the same calls. Every text is invented; no
caller is identifiable. Written through ``cti.storage.reports.add_seeded_calls``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, time, timedelta

from cti.config import BusinessCalendar, Service, Settings
from cti.escalation.business_time import add_business_time, due_at
from cti.metrics.forecast import DEFAULT_HOURLY_PROFILE
from cti.reports.period import Month
from cti.storage import audit
from cti.storage.reports import SeededCall, SeededEscalation, Sessions, add_seeded_calls
from cti.tickets.rules import CallRecordEvent

VOLUMES_2022 = (181, 130, 433, 705, 229, 254, 136, 140, 124, 149, 136, 217)
SERVICE_WEIGHTS = {"isolation": 30, "skysea": 18, "portal": 14, "licenses": 20, "telework": 12,
                   "other": 6}
OUTCOME_WEIGHTS = {"answered": 84, "abandoned_queue": 7, "abandoned_ivr": 5, "callback_requested": 4}
AFTER_HOURS_SHARE = 0.05
ESCALATION_SHARE = 0.09
ANSWERS = ("手順を案内し、解決を確認した。", "設定の確認方法を案内した。再発時は再度連絡を依頼。",
           "再起動で解消したことを確認した。", "申請手続きを案内した。", "マニュアルの該当箇所を案内した。")
SUMMARY_FORMS = ("{c}について問い合わせ。", "{c}の件。手順が分からないとのこと。",
                 "{c}に関する確認依頼。", "{c}でエラーが表示されるとのこと。")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class _MonthShape:
    def __init__(self, settings: Settings, calendar: BusinessCalendar, month: Month,
                 rng: random.Random) -> None:
        self.zone = settings.hours.timezone
        self.rng = rng
        start, end = month.bounds(self.zone)
        days = []
        day = start.date()
        while day < end.date():
            days.append(day)
            day += timedelta(days=1)
        self.open_days = [d for d in days if calendar.is_business_day(d)]
        self.closed_days = [d for d in days if not calendar.is_business_day(d)]
        early = set(self.open_days[:3]) if month.month == 4 else set()  # personnel changes
        self.day_weights = [(1.6 if d in early else 1.0) * (1.2 if d.weekday() == 0 else 1.0)
                            for d in self.open_days]
        opens, closes = settings.hours.open, settings.hours.close
        self.slots = []
        for hour, weight in DEFAULT_HOURLY_PROFILE.items():
            lo = max(opens, time(hour)) if hour == opens.hour else time(hour)
            hi_minutes = 60 if hour < closes.hour else closes.minute
            if hour < opens.hour or hour > closes.hour or (lo.minute >= hi_minutes):
                continue
            self.slots.append((hour, lo.minute, hi_minutes, weight))

    def business_instant(self) -> datetime:
        day = self.rng.choices(self.open_days, weights=self.day_weights)[0]
        hour, lo, hi, _ = self.rng.choices(self.slots, weights=[s[3] for s in self.slots])[0]
        minute = self.rng.randrange(lo, hi)
        return datetime(day.year, day.month, day.day, hour, minute, self.rng.randrange(60),
                        tzinfo=self.zone)

    def after_hours_instant(self) -> datetime:
        if self.closed_days and (not self.open_days or self.rng.random() < 0.4):
            day = self.rng.choice(self.closed_days)
            hour = self.rng.randrange(9, 18)
        else:
            day = self.rng.choice(self.open_days)
            hour = self.rng.choice((7, 8, 17, 18, 19)) if self.rng.random() < 0.9 else 22
        minute = self.rng.randrange(0, 40) if hour == 8 else self.rng.randrange(20 if hour == 17 else 0, 60)
        return datetime(day.year, day.month, day.day, hour, minute, self.rng.randrange(60),
                        tzinfo=self.zone)


def seed_calls(settings: Settings, month: Month, seed: int, *, calls: int | None = None,
               after_hours_share: float = AFTER_HOURS_SHARE) -> tuple[list[SeededCall], datetime | None]:
    """The month's calls (and when its incident notice went up); pure and deterministic."""
    rng = random.Random(f"cti-seed|{seed}|{month.text}")
    calendar = BusinessCalendar(settings.hours)
    shape = _MonthShape(settings, calendar, month, rng)
    total = VOLUMES_2022[month.month - 1] if calls is None else calls
    if not shape.open_days:
        after_hours_share = 1.0
    after_hours = round(total * after_hours_share)
    services = {s.id: s for s in settings.services}
    weights = {k: v for k, v in SERVICE_WEIGHTS.items() if k in services} or dict.fromkeys(services, 1)
    incident = shape.business_instant().replace(hour=9, minute=30, second=0) if shape.open_days else None
    result = []
    for n in range(total):
        at = shape.after_hours_instant() if n < after_hours else shape.business_instant()
        service = _pick(rng, weights)
        in_incident = incident is not None and incident <= at < incident + timedelta(hours=3)
        outcome = ("after_hours" if n < after_hours else
                   "deflected" if in_incident and service == "isolation" and rng.random() < 0.5
                   else _pick(rng, OUTCOME_WEIGHTS))
        result.append(_call(settings, calendar, rng, at, services[service], outcome, in_incident))
    result.sort(key=lambda c: c.events[0].at)
    return result, incident


def _call(settings: Settings, calendar: BusinessCalendar, rng: random.Random, at: datetime,
          service: Service, outcome: str, in_incident: bool) -> SeededCall:
    call_id = _uuid(rng)
    events: list[tuple[datetime, str, dict[str, object]]] = [
        (at, "offered", {"caller_hash": f"{rng.getrandbits(256):064x}", "caller_display": None})]
    t = at
    if outcome == "after_hours":
        events += [(t + timedelta(seconds=2), "after_hours", {"reason_code": "outside_hours"}),
                   (t + timedelta(seconds=25), "ended", {"hung_up_by": "system"})]
        return _seeded(call_id, events)
    if in_incident:
        t += timedelta(seconds=20)
        events.append((t, "incident_message", {"incident_id": "seed"}))
    if outcome in ("abandoned_ivr", "deflected"):
        events.append((t + timedelta(seconds=rng.randrange(5, 30)), "ended", {"hung_up_by": "caller"}))
        return _seeded(call_id, events)
    t += timedelta(seconds=rng.randrange(12, 35))
    events += [(t, "service_selected", {"service": service.id, "digit": service.digit}),
               (t + timedelta(seconds=1), "queued", {"service": service.id, "position": 1})]
    t += timedelta(seconds=1)
    if outcome == "abandoned_queue":
        events.append((t + timedelta(seconds=rng.randrange(15, 240)), "ended", {"hung_up_by": "caller"}))
        return _seeded(call_id, events)
    if outcome == "callback_requested":
        t += timedelta(seconds=rng.randrange(60, 600))
        events += [(t, "callback_requested", {"reason": "caller", "reachable": True}),
                   (t + timedelta(seconds=8), "ended", {"hung_up_by": "system"})]
        return _seeded(call_id, events, category=None, summary="折り返し依頼。", status="callback_requested")
    skilled = [o.id for o in settings.operators if service.id in o.skills] or [settings.operators[0].id]
    operator = rng.choice(skilled)
    t += timedelta(seconds=min(300.0, round(rng.expovariate(1 / 11.0), 1)))
    events += [(t - timedelta(seconds=1), "operator_offered", {"operator_id": operator}),
               (t, "connected", {"operator_id": operator})]
    t += timedelta(seconds=max(30.0, round(rng.lognormvariate(5.6, 0.5), 1)))
    events.append((t, "ended", {"hung_up_by": "caller"}))
    categories = service.categories or ("その他",)
    category = rng.choices(categories, weights=[len(categories) - i + 2 for i in range(len(categories))])[0]
    summary = rng.choice(SUMMARY_FORMS).format(c=category)
    answer = rng.choice(ANSWERS)
    escalations: list[SeededEscalation] = []
    status, done = ("resolved", t + timedelta(minutes=rng.randrange(2, 20)))
    if rng.random() < 0.05:
        status = "in_progress"
    elif rng.random() < 0.25:
        status = "closed"
    contacts = list(service.contacts)
    if contacts and rng.random() < ESCALATION_SHARE * 1.2:
        wanted = "vendor" if rng.random() < 0.6 else "city"
        contact = next((c for c in contacts if c.kind == wanted), contacts[0])
        created = t + timedelta(minutes=5)
        due = due_at(calendar, created, settings.escalation.overdue_business_hours)
        luck = rng.random()
        answered = (None if luck < 0.12 else
                    add_business_time(calendar, created, timedelta(hours=rng.uniform(1, 14)))
                    if luck < 0.9 else due + timedelta(hours=rng.uniform(2, 30)))
        escalations.append(SeededEscalation(
            contact.kind, contact.name, contact.email, f"{summary}（エスカレーション）", created,
            created + timedelta(seconds=40), due, answered,
            "対応手順を回答します。" if answered else None))
        status = "escalated" if answered is None else "resolved"
        done = answered + timedelta(minutes=30) if answered else created
    return _seeded(call_id, events, category=category, summary=summary, answer=answer,
                   status=status, updated_at=done, escalations=escalations)


def _seeded(call_id: str, events: Sequence[tuple[datetime, str, dict[str, object]]], *,
            category: str | None = None, summary: str = "", answer: str = "",
            status: str | None = None, updated_at: datetime | None = None,
            escalations: Sequence[SeededEscalation] = ()) -> SeededCall:
    timeline = [CallRecordEvent(call_id, seq, at, kind, data)
                for seq, (at, kind, data) in enumerate(events, start=1)]
    return SeededCall(timeline, category, summary, answer, status, updated_at, tuple(escalations))


async def seed_month(settings: Settings, sessions: Sessions, month: Month, seed: int, now: datetime,
                     *, calls: int | None = None, after_hours_share: float = AFTER_HOURS_SHARE) -> int:
    """Write the month into the database; returns the number of calls."""
    made, incident = seed_calls(settings, month, seed, calls=calls, after_hours_share=after_hours_share)
    for start in range(0, len(made), 250):
        await add_seeded_calls(sessions, made[start:start + 250], now)
    if incident is not None and made:
        await audit.record(sessions, audit.AuditEntry(
            incident, "seed", "supervisor", "incident.declare", "isolation",
            {"service": "isolation",
             "message_ja": "インターネット分離環境で接続障害が発生しています（架空）。",
             "message_en": "Internet isolation is down (invented).", "priority_delta": 0,
             "until": (incident + timedelta(hours=3)).isoformat(), "declared_by": "seed",
             "declared_at": incident.isoformat()}))
    return len(made)
