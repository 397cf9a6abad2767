"""対応履歴票: one row per ticket, as the city files it. Pure: stored records in, rows out.

"Resolved at" is the last change of a ticket an operator resolved or closed (tickets keep no
separate resolution time); calls that ended in the menu or after an incident notice were closed
by the service itself and have none. Time to resolve counts business hours only, as due dates do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from cti.config import BusinessCalendar, Settings
from cti.escalation.business_time import business_time_between
from cti.storage.reports import EscalationRecord, TicketRecord

OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    "answered": ("応答", "answered"),
    "abandoned_queue": ("待ち中の放棄", "abandoned in queue"),
    "abandoned_ivr": ("音声案内中の切断", "hung up in menu"),
    "deflected": ("障害案内で終了", "deflected by incident notice"),
    "callback_requested": ("折り返し依頼", "callback requested"),
    "after_hours": ("時間外", "after hours"),
    "interrupted": ("システム側で切断", "ended by the service"),
}
STATUS_LABELS: dict[str, str] = {
    "new": "新規", "callback_requested": "折り返し待ち", "in_progress": "対応中",
    "escalated": "エスカレーション中", "resolved": "解決", "closed": "完了", "reopened": "再対応",
}
TARGET_LABELS: dict[str, str] = {"city": "市", "vendor": "ベンダー"}
RESOLVED = frozenset({"resolved", "closed"})
CLOSED_BY_SERVICE = frozenset({"abandoned_ivr", "deflected", "interrupted"})

HEADERS: tuple[tuple[str, str], ...] = (
    ("受付番号", "Reference"),
    ("受付日時", "Received (JST)"),
    ("サービス", "Service"),
    ("分類", "Category"),
    ("問い合わせ内容", "Summary"),
    ("回答内容", "Answer"),
    ("対応者", "Operator"),
    ("結果", "Outcome"),
    ("状態", "Status"),
    ("エスカレーション先", "Escalated to"),
    ("送信日時", "Escalation sent"),
    ("回答日時", "Escalation answered"),
    ("期限超過", "Overdue"),
    ("解決日時", "Resolved at"),
    ("解決所要時間（営業時間）", "Business hours to resolve"),
)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    reference: str
    received: datetime  # local wall time, naive (Excel has no zones)
    service: str
    category: str
    summary: str
    answer: str
    operator: str
    outcome: str
    status: str
    escalated_to: str
    escalation_sent: datetime | None
    escalation_answered: datetime | None
    overdue: str
    resolved_at: datetime | None
    hours_to_resolve: float | None

    def cells(self) -> tuple[object, ...]:
        return (self.reference, self.received, self.service, self.category, self.summary,
                self.answer, self.operator, self.outcome, self.status, self.escalated_to,
                self.escalation_sent, self.escalation_answered, self.overdue, self.resolved_at,
                self.hours_to_resolve)


def resolved_at(record: TicketRecord) -> datetime | None:
    if record.status in RESOLVED and record.outcome not in CLOSED_BY_SERVICE:
        return record.updated_at
    return None


def escalation_overdue(e: EscalationRecord, as_of: datetime) -> bool:
    """Past its due date unanswered by ``as_of``, or answered after it."""
    if e.due_at is None:
        return False
    return (e.answered_at or as_of) > e.due_at


def history_rows(settings: Settings, calendar: BusinessCalendar, records: Sequence[TicketRecord],
                 as_of: datetime, names: Mapping[str, str] | None = None) -> list[HistoryRow]:
    """``names``: operator id -> display name (the operators table's; the config's if None)."""
    zone = settings.hours.timezone
    services = {s.id: short_name(s.name_ja) for s in settings.services}
    operators = dict(names) if names is not None else {o.id: o.name for o in settings.operators}
    rows = []
    for r in records:
        done = resolved_at(r)
        hours = None
        if done is not None and done > r.received_at:
            hours = round(business_time_between(calendar, r.received_at, done).total_seconds() / 3600, 2)
        escalated = "、".join(f"{TARGET_LABELS.get(e.target, e.target)}：{e.contact_name}"
                             for e in r.escalations)
        sent = [e.sent_at for e in r.escalations if e.sent_at]
        answered = [e.answered_at for e in r.escalations if e.answered_at]
        overdue = any(escalation_overdue(e, as_of) for e in r.escalations)
        rows.append(HistoryRow(
            reference=r.reference,
            received=_local(r.received_at, zone),
            service=services.get(r.service or "", r.service or "（未選択）"),
            category=r.category or "",
            summary=r.summary,
            answer=r.answer,
            operator=operators.get(r.operator_id or "", r.operator_id or ""),
            outcome=OUTCOME_LABELS.get(r.outcome or "", ("通話中", ""))[0],
            status=STATUS_LABELS.get(r.status, r.status),
            escalated_to=escalated,
            escalation_sent=_local(min(sent), zone) if sent else None,
            escalation_answered=_local(max(answered), zone) if answered and len(answered) == len(
                r.escalations) else None,
            overdue=("はい" if overdue else "いいえ") if r.escalations else "",
            resolved_at=_local(done, zone) if done else None,
            hours_to_resolve=hours,
        ))
    return rows


def short_name(name_ja: str) -> str:
    """"インターネット分離環境（Citrix…）" -> "インターネット分離環境": the part before the brackets."""
    return name_ja.split("（", 1)[0].strip() or name_ja


def _local(at: datetime, zone: tzinfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None, microsecond=0)
