"""The per-service summary of a month (``cti report --format text|csv|json``).

Pure: figures in, report out (text with Japanese first and English second, CSV, JSON).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import mean

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.config import Settings
from cti.reports.history import OUTCOME_LABELS, RESOLVED
from cti.reports.period import Month
from cti.storage.reports import TicketFigures, ticket_figures


@dataclass(frozen=True, slots=True)
class ServiceLine:
    service: str
    name_ja: str
    name_en: str
    received: int
    outcomes: dict[str, int]
    escalated: int
    resolved: int
    mean_wait_s: float | None
    mean_talk_s: float | None


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    year: int
    month: int
    baseline: int
    lines: tuple[ServiceLine, ...]

    @property
    def received(self) -> int:
        return sum(line.received for line in self.lines)

    def to_json(self) -> dict[str, object]:
        return {
            "month": f"{self.year:04d}-{self.month:02d}", "baseline": self.baseline,
            "received": self.received,
            "services": [{
                "service": line.service, "name_ja": line.name_ja, "name_en": line.name_en,
                "received": line.received, "outcomes": line.outcomes,
                "escalated": line.escalated, "resolved": line.resolved,
                "mean_wait_seconds": line.mean_wait_s, "mean_talk_seconds": line.mean_talk_s,
            } for line in self.lines],
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["サービス/service", "受付/received", *(f"{ja}/{en}" for ja, en in
                         OUTCOME_LABELS.values()), "エスカレーション/escalated",
                         "解決/resolved", "平均待ち秒/mean wait s", "平均通話秒/mean talk s"])
        for line in self.lines:
            writer.writerow([line.service, line.received,
                             *(line.outcomes.get(k, 0) for k in OUTCOME_LABELS),
                             line.escalated, line.resolved, _num(line.mean_wait_s),
                             _num(line.mean_talk_s)])
        return out.getvalue()

    def to_text(self) -> str:
        head = [
            f"{self.year}年{self.month}月 対応履歴報告 / Response history {self.year:04d}-{self.month:02d}",
            f"受付件数 / Calls received: {self.received}件  "
            f"(前年同月 / baseline: {self.baseline}件, 比 / ratio "
            f"{(self.received / self.baseline if self.baseline else 0):.2f})",
            "",
        ]
        body: list[str] = []
        for line in self.lines:
            body.append(f"■ {line.name_ja} / {line.name_en}")
            body.append(f"  受付 / received {line.received}  解決 / resolved {line.resolved}  "
                        f"エスカレーション / escalated {line.escalated}")
            body.append(f"  平均待ち / mean wait {_num(line.mean_wait_s)} s  "
                        f"平均通話 / mean talk {_num(line.mean_talk_s)} s")
            for key, (ja, en) in OUTCOME_LABELS.items():
                if line.outcomes.get(key):
                    body.append(f"    {ja} / {en}: {line.outcomes[key]}")
        return "\n".join(head + body) + "\n"


def build_report(settings: Settings, year: int, month: int,
                 figures: Sequence[TicketFigures]) -> MonthlyReport:
    lines = []
    for service in settings.services:
        mine = [f for f in figures if f.service == service.id]
        outcomes: dict[str, int] = {}
        for f in mine:
            if f.outcome:
                outcomes[f.outcome] = outcomes.get(f.outcome, 0) + 1
        waits = [f.wait_seconds for f in mine if f.wait_seconds is not None]
        talks = [f.talk_seconds for f in mine if f.talk_seconds is not None]
        lines.append(ServiceLine(
            service.id, service.name_ja, service.name_en, len(mine), outcomes,
            sum(1 for f in mine if f.escalations), sum(1 for f in mine if f.status in RESOLVED),
            round(mean(waits), 1) if waits else None, round(mean(talks), 1) if talks else None))
    unassigned = [f for f in figures if f.service is None]
    if unassigned:  # after hours or hung up before choosing
        outcomes = {}
        for f in unassigned:
            if f.outcome:
                outcomes[f.outcome] = outcomes.get(f.outcome, 0) + 1
        lines.append(ServiceLine("unassigned", "サービス未選択", "no service chosen",
                                 len(unassigned), outcomes, 0,
                                 sum(1 for f in unassigned if f.status in RESOLVED), None, None))
    return MonthlyReport(year, month, settings.baseline[month - 1], tuple(lines))


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


async def monthly_report(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                         year: int, month: int) -> MonthlyReport:
    start, end = Month(year, month).bounds(settings.hours.timezone)
    return build_report(settings, year, month, await ticket_figures(sessions, start, end))
