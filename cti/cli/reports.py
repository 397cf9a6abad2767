"""``cti report``: the monthly deliverables; ``cti seed-month``: an invented month for tests and demos."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from cti.cli.common import EXIT_CONFIG, Refused, SubParsers, with_config, with_sessions
from cti.clock import utc_now
from cti.config import Settings
from cti.reports.period import BadMonth, Month

BAR_WIDTH = 30


def register(sub: SubParsers) -> None:
    report = with_config(sub.add_parser(
        "report", help="the monthly deliverables (対応履歴票, 月次報告書, 業務完了届)"))
    report.add_argument("--month", required=True, metavar="YYYY-MM")
    report.add_argument("--format", choices=["text", "csv", "json", "xlsx", "pdf"], default="text")
    report.add_argument("--out", default=".", metavar="DIR",
                        help="where xlsx and pdf files are written (default: here)")
    report.add_argument("--keep", action="store_true",
                        help="also keep the set (a new version in the reports folder)")
    report.set_defaults(run=lambda settings, args: asyncio.run(_report(settings, args)))
    seed = with_config(sub.add_parser(
        "seed-month", help="write an invented, realistic month of calls (tests and demos)"))
    seed.add_argument("--month", required=True, metavar="YYYY-MM")
    seed.add_argument("--seed", type=int, default=1)
    seed.add_argument("--calls", type=int, default=None, help="default: the 2022 volume of that month")
    seed.set_defaults(run=lambda settings, args: asyncio.run(_seed(settings, args)))


def _month(text: str) -> Month:
    try:
        return Month.parse(text)
    except BadMonth as exc:
        raise Refused(f"--month must be {exc}", EXIT_CONFIG) from None


def _progress(step: str, done: float) -> None:
    if not sys.stderr.isatty():
        return
    filled = round(BAR_WIDTH * done)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:4.0%} {step:<30}")
    if done >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()


async def _report(settings: Settings, args: argparse.Namespace) -> int:
    from cti.reports.archive import keep, produce
    from cti.reports.pdf import PdfFailed
    from cti.reports.summary import monthly_report

    month = _month(args.month)
    fmt: str = args.format
    if fmt in ("xlsx", "pdf") or args.keep:
        out = Path(args.out)
        try:
            if args.keep:
                kept = await with_sessions(settings, lambda s: keep(
                    settings, s, month, utc_now(), trigger="manual", built_by="cli",
                    progress=_progress))
                print(f"kept {kept.month} v{kept.version} in "
                      f"{Path(settings.reports.folder) / kept.folder} (sha256 {kept.checksum})")
                if fmt not in ("xlsx", "pdf"):
                    return 0
            paths = await with_sessions(settings, lambda s: produce(
                settings, s, month, out, utc_now(), formats=(fmt,), progress=_progress))
        except PdfFailed as exc:
            raise Refused(f"PDF conversion failed: {exc}") from None
        for path in paths:
            print(path)
        return 0
    result = await with_sessions(settings, lambda s: monthly_report(settings, s, month.year, month.month))
    if fmt == "json":
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(result.to_csv() if fmt == "csv" else result.to_text())
    return 0


async def _seed(settings: Settings, args: argparse.Namespace) -> int:
    from cti.reports.seed import seed_month

    month = _month(args.month)
    calls = args.calls
    if calls is not None and not 0 <= calls <= 20000:
        raise Refused("--calls must be between 0 and 20000", EXIT_CONFIG)
    made = await with_sessions(settings, lambda s: seed_month(
        settings, s, month, args.seed, utc_now(), calls=calls))
    print(f"seeded {made} calls into {month.text}")
    return 0
