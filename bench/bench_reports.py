"""How long the monthly deliverables take: seeding, reading, the workbook, the PDFs.

Seeds an invented April (705 calls, the peak month) into a temp SQLite database, then times
reading the month, building the workbook, and one LibreOffice run converting the three
documents. Target: the whole set in well under a minute on the helpdesk's server (the
scheduler runs it once a month; the console's download waits for it).

    .venv/bin/python bench/bench_reports.py [--calls 705] [--no-pdf]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cti.config import load_settings
from cti.reports.archive import month_set, write_pdfs, write_workbook
from cti.reports.period import Month
from cti.reports.seed import seed_month
from cti.storage import create_engine, session_factory, upgrade

TARGET_S = 60.0


async def main(calls: int, pdf: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="cti-bench-reports-") as work:
        settings = load_settings(None, {"CTI_DATABASE_URL": f"sqlite+aiosqlite:///{work}/cti.db",
                                        "CTI_SIP_MODE": "off",
                                        "CTI_PRIVACY_CALLER_HASH_SECRET": "bench-" + "0" * 40})
        engine = create_engine(settings.database.url)
        try:
            await upgrade(engine)
            sessions = session_factory(engine)
            month, now = Month(2027, 4), datetime(2027, 5, 6, 0, 0, tzinfo=UTC)
            figures: dict[str, float] = {}
            start = time.perf_counter()
            await seed_month(settings, sessions, month, 1, now, calls=calls)
            figures["seed"] = time.perf_counter() - start
            start = time.perf_counter()
            doc = await month_set(settings, sessions, month, now)
            figures["read + figures"] = time.perf_counter() - start
            start = time.perf_counter()
            write_workbook(doc, Path(work))
            figures["workbook"] = time.perf_counter() - start
            if pdf:
                start = time.perf_counter()
                await write_pdfs(doc, Path(work))
                figures["3 PDFs (one soffice run)"] = time.perf_counter() - start
        finally:
            await engine.dispose()
    total = sum(v for k, v in figures.items() if k != "seed")
    for name, seconds in figures.items():
        print(f"{name:28s} {seconds:7.2f} s")
    print(f"{'set (without seeding)':28s} {total:7.2f} s  target < {TARGET_S:.0f} s  "
          f"ratio {total / TARGET_S:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=705)
    parser.add_argument("--no-pdf", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(min(max(args.calls, 0), 20000), not args.no_pdf))
