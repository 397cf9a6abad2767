"""Building a month's set of documents, writing it out, and keeping it.

A kept set lives in ``<reports folder>/<YYYY-MM>/v<N>/``, written once and made read-only; the
``produced_reports`` row holds each file's SHA-256 and a checksum over all of them, so a file
changed on disk is noticed when it is served. Rebuilding a month adds version N+1.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from cti.config import BusinessCalendar, Settings
from cti.floor.roster import read_roster
from cti.reports.figures import MonthData, month_figures
from cti.reports.history import history_rows
from cti.reports.pdf import convert_to_pdf
from cti.reports.period import Month
from cti.reports.workbook import DOCUMENTS, HISTORY, MONTHLY, NOTICE, MonthSet, build_workbook
from cti.storage import reports as store
from cti.storage.knowledge import similar
from cti.storage.reports import NewProducedReport, ProducedReport, Sessions, TicketRecord

Progress = Callable[[str, float], None]
PDF_NAMES = {HISTORY: "history", MONTHLY: "monthly-report", NOTICE: "completion-notice"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _quiet(step: str, done: float) -> None:
    pass


def workbook_name(month: Month) -> str:
    return f"cti-{month.text}.xlsx"


def pdf_name(month: Month, document: str) -> str:
    return f"cti-{month.text}-{PDF_NAMES[document]}.pdf"


def content_type(name: str) -> str:
    return "application/pdf" if name.endswith(".pdf") else XLSX_TYPE


def top_categories(records: Sequence[TicketRecord], n: int = 5) -> list[tuple[tuple[str, str], int]]:
    counts = Counter((r.service, r.category) for r in records if r.service and r.category)
    return [((s or "", c or ""), k) for (s, c), k in counts.most_common(n)]


async def load_month(settings: Settings, sessions: Sessions, month: Month) -> MonthData:
    zone = settings.hours.timezone
    start, end = month.bounds(zone)
    records = await store.ticket_records(sessions, start, end)
    last_year = await store.count_received(sessions, *month.minus_years(1).bounds(zone))
    fiscal = {}
    for m in month.fiscal_months():
        if m > month:
            break
        fiscal[m] = len(records) if m == month else await store.count_received(sessions, *m.bounds(zone))
    titles = {}
    for (service, category), _ in top_categories(records):
        found = await similar(sessions, category, since=start, service=service, limit=1)
        if found.articles:
            titles[(service, category)] = found.articles[0].title
    incidents = await store.incidents_declared(sessions, start, end)
    return MonthData(month, records, last_year, fiscal, incidents, titles)


async def month_set(settings: Settings, sessions: Sessions, month: Month, now: datetime) -> MonthSet:
    calendar = BusinessCalendar(settings.hours)
    data = await load_month(settings, sessions, month)
    names = (await read_roster(sessions, settings)).names()  # admin-added operators too
    return MonthSet(settings, month_figures(settings, calendar, data, now),
                    history_rows(settings, calendar, data.records, now, names),
                    now.astimezone(settings.hours.timezone))


def write_workbook(doc: MonthSet, out_dir: Path) -> Path:
    path = out_dir / workbook_name(doc.figures.month)
    build_workbook(doc).save(path)
    return path


async def write_pdfs(doc: MonthSet, out_dir: Path, documents: Sequence[str] = DOCUMENTS) -> list[Path]:
    """One PDF per document, from one LibreOffice run over single-sheet workbooks."""
    month = doc.figures.month

    def sources_in(work: Path) -> list[Path]:
        made = []
        for document in documents:
            source = work / f"{pdf_name(month, document).removesuffix('.pdf')}.xlsx"
            build_workbook(doc, only=(document,)).save(source)
            made.append(source)
        return made

    def copied(converted: list[Path]) -> list[Path]:
        out = []
        for made in converted:
            target = out_dir / made.name
            target.write_bytes(made.read_bytes())
            out.append(target)
        return out

    with tempfile.TemporaryDirectory(prefix="cti-report-") as work:
        sources = await asyncio.to_thread(sources_in, Path(work))
        converted = await convert_to_pdf(sources, Path(work), soffice=doc.settings.reports.soffice,
                                         timeout_s=doc.settings.reports.convert_timeout_seconds)
        return await asyncio.to_thread(copied, converted)


async def produce(settings: Settings, sessions: Sessions, month: Month, out_dir: Path, now: datetime,
                  formats: Sequence[str] = ("xlsx", "pdf"), progress: Progress = _quiet) -> list[Path]:
    """Write the month's workbook and/or PDFs into ``out_dir``; returns their paths."""
    progress("読み込み / reading", 0.05)
    doc = await month_set(settings, sessions, month, now)
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    paths = []
    if "xlsx" in formats:
        progress("ワークブック / workbook", 0.3)
        paths.append(await asyncio.to_thread(write_workbook, doc, out_dir))
    if "pdf" in formats:
        progress("PDF変換 / converting to PDF", 0.5)
        paths.extend(await write_pdfs(doc, out_dir))
    progress("完了 / done", 1.0)
    return paths


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_checksum(files: dict[str, str]) -> str:
    """SHA-256 over the sorted ``name:sha256`` lines of a set's files."""
    lines = "".join(f"{name}:{digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


async def keep(settings: Settings, sessions: Sessions, month: Month, now: datetime, *,
               trigger: str, built_by: str, progress: Progress = _quiet) -> ProducedReport:
    """Build the month's set into a new version folder (never overwriting) and record it."""
    root = Path(settings.reports.folder)
    version = await store.next_version(sessions, month.text)
    relative = f"{month.text}/v{version}"
    building = root / f".building-{month.text}-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(building.mkdir, parents=True)
    try:
        paths = await produce(settings, sessions, month, building, now, progress=progress)
        files = await asyncio.to_thread(_seal, paths)
        final = root / relative
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(building.rename, final)  # fails if that version exists
    finally:
        await asyncio.to_thread(shutil.rmtree, building, True)
    checksum = set_checksum({name: str(meta["sha256"]) for name, meta in files.items()})
    received = await store.count_received(sessions, *month.bounds(settings.hours.timezone))
    return await store.add_produced(sessions, NewProducedReport(
        month.text, trigger, built_by, now, relative, files, checksum, received), version)


def _seal(paths: Sequence[Path]) -> dict[str, dict[str, object]]:
    """Each file's digest, size and type; the files become read-only."""
    files: dict[str, dict[str, object]] = {}
    for path in paths:
        files[path.name] = {"sha256": file_digest(path), "bytes": path.stat().st_size,
                            "content_type": content_type(path.name)}
        path.chmod(0o444)
    return files


class TamperedFile(RuntimeError):
    pass


def kept_file(settings: Settings, report: ProducedReport, name: str) -> bytes:
    """A kept file's bytes, checked against its recorded digest."""
    meta = report.files.get(name)
    if meta is None:
        raise FileNotFoundError(name)
    data = (Path(settings.reports.folder) / report.folder / name).read_bytes()
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise TamperedFile(f"{report.folder}/{name} does not match its recorded checksum")
    return data
