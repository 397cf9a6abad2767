"""``cti report``: the monthly deliverables."""

from __future__ import annotations

import asyncio
import json
import sys

from cti.cli.common import SubParsers, month, with_config, with_sessions
from cti.config import Settings


def register(sub: SubParsers) -> None:
    report = with_config(sub.add_parser("report", help="the monthly response-history report"))
    report.add_argument("--month", required=True, metavar="YYYY-MM")
    report.add_argument("--format", choices=["text", "csv", "json"], default="text")
    report.set_defaults(run=lambda settings, args: asyncio.run(_report(settings, args.month, args.format)))


async def _report(settings: Settings, month_text: str, fmt: str) -> int:
    from cti.reports import monthly_report

    year, number = month(month_text)
    result = await with_sessions(settings, lambda s: monthly_report(settings, s, year, number))
    if fmt == "json":
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(result.to_csv() if fmt == "csv" else result.to_text())
    return 0
