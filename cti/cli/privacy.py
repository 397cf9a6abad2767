"""``cti privacy rescan [--since DATE] [--dry-run]``: re-redact stored records with today's redactor."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from cti.cli.common import EXIT_CONFIG, Refused, SubParsers, with_config, with_sessions
from cti.clock import utc_now, wire_time
from cti.config import Settings


def register(sub: SubParsers) -> None:
    privacy = sub.add_parser("privacy", help="personal data in stored records")
    privacy_sub = privacy.add_subparsers(dest="privacy_command", required=True)
    rescan = with_config(privacy_sub.add_parser(
        "rescan", help="redact tickets, timelines, escalations and articles again with the current redactor"))
    rescan.add_argument("--since", metavar="YYYY-MM-DD",
                        help="only records written or changed from this day on (helpdesk time)")
    rescan.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    rescan.set_defaults(run=lambda settings, args: asyncio.run(_rescan(settings, args.since, args.dry_run)))


def since_instant(text: str | None, settings: Settings) -> datetime | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Refused(f"--since must be YYYY-MM-DD, got {text!r}", EXIT_CONFIG) from None
    return datetime(day.year, day.month, day.day, tzinfo=settings.hours.timezone)


async def _rescan(settings: Settings, since_text: str | None, dry_run: bool) -> int:
    from cti.privacy.rescan import Rescan, rescan
    from cti.privacy.secret import redactor

    since = since_instant(since_text, settings)
    job = Rescan(redactor(settings), since=since, dry_run=dry_run)
    report = await with_sessions(settings, lambda s: rescan(s, job, utc_now()))
    verb = "would change" if dry_run else "changed"
    scope = f"since {wire_time(since, settings.hours.timezone)}" if since else "all records"
    print(f"再マスキング / rescan ({scope}){' — dry run' if dry_run else ''}")
    for kind, tally in report.items():
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(tally.found.items())) or "-"
        failed = f", {tally.failed} failed" if tally.failed else ""
        print(f"  {kind:<12} scanned {tally.scanned}, {verb} {tally.changed}{failed}; found: {kinds}")
    return 1 if any(t.failed for t in report.values()) else 0
