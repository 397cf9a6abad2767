"""The monthly deliverables over HTTP, for supervisors, managers and admins (every read audited).

``GET /api/reports/monthly?month=YYYY-MM&format=json|csv|text|xlsx|pdf[&document=...]`` builds the
month from the live records; ``GET /api/reports`` lists the kept sets and
``GET /api/reports/{id}/files/{name}`` serves one kept file, checked against its checksum.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web

from cti.auth import READERS
from cti.clock import wire_time, wire_time_or_none
from cti.errors import CtiError, InvalidRequest, NotFound
from cti.keys import CLOCK, SESSIONS, SETTINGS
from cti.reports.archive import (
    PDF_NAMES,
    XLSX_TYPE,
    TamperedFile,
    content_type,
    kept_file,
    month_set,
    pdf_name,
    workbook_name,
    write_pdfs,
)
from cti.reports.pdf import PdfFailed
from cti.reports.period import BadMonth, Month
from cti.reports.summary import monthly_report
from cti.reports.workbook import DOCUMENTS, build_workbook, workbook_bytes
from cti.storage import audit
from cti.storage import reports as store
from cti.web.body import reply
from cti.web.openapi import INTEGER, NUMBER, STRING, TIME, array, documented, nullable, obj
from cti.web.security import allow_roles, principal

routes = web.RouteTableDef()
FORMATS = ("json", "csv", "text", "xlsx", "pdf")
DOCUMENT_NAMES = {slug: document for document, slug in PDF_NAMES.items()}
MONTH = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}
#: ``MonthlyReport.to_json``
MONTHLY = obj(month=STRING, baseline=INTEGER, received=INTEGER, services=array(obj(
    service=STRING, name_ja=STRING, name_en=STRING, received=INTEGER,
    outcomes={"type": "object", "additionalProperties": INTEGER}, escalated=INTEGER,
    resolved=INTEGER, mean_wait_seconds=nullable(NUMBER), mean_talk_seconds=nullable(NUMBER))))
KEPT = obj(
    id=INTEGER, month=STRING, version=INTEGER, trigger=STRING, built_by=STRING, built_at=TIME,
    received=INTEGER, checksum=STRING, mailed_at=nullable(TIME), mail_attempts=INTEGER,
    mail_error=nullable(STRING), files=array(obj(
        name=STRING, bytes=INTEGER, sha256=STRING, content_type=STRING, url=STRING)))


class ReportUnavailable(CtiError):
    error_id = "report_unavailable"
    status: ClassVar[int] = 503
    fault = "server"


def _month(request: web.Request) -> Month:
    text = request.query.get("month")
    if not text:
        raise InvalidRequest('month is required, e.g. "2027-04"', field="month")
    try:
        return Month.parse(text)
    except BadMonth as exc:
        raise InvalidRequest(f"month must be {exc}", field="month") from None


async def _audit(request: web.Request, action: str, target: str, detail: dict[str, Any]) -> None:
    who = principal(request)
    await audit.record(request.app[SESSIONS], audit.AuditEntry(
        request.app[CLOCK](), who.name, who.role.value, action, target, detail))


def _download(body: bytes, name: str) -> web.Response:
    return web.Response(body=body, content_type=content_type(name),
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


@routes.get("/api/reports/monthly")
@allow_roles(READERS)
@documented(query={"month": MONTH, "format": {"enum": list(FORMATS)},
                   "document": {"enum": list(DOCUMENT_NAMES)}},
            response=MONTHLY, content_type=("application/json", "text/csv", "text/plain", XLSX_TYPE,
                                            "application/pdf"))
async def monthly(request: web.Request) -> web.Response:
    month = _month(request)
    fmt = request.query.get("format", "json")
    if fmt not in FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}", field="format")
    document = request.query.get("document", "monthly-report")
    if fmt == "pdf" and document not in DOCUMENT_NAMES:
        raise InvalidRequest(f"document must be one of {', '.join(DOCUMENT_NAMES)}", field="document")
    settings, sessions = request.app[SETTINGS], request.app[SESSIONS]
    await _audit(request, "report.monthly", month.text,
                 {"format": fmt, **({"document": document} if fmt == "pdf" else {})})
    if fmt in ("xlsx", "pdf"):
        doc = await month_set(settings, sessions, month, request.app[CLOCK]())
        if fmt == "xlsx":
            body = await asyncio.to_thread(lambda: workbook_bytes(build_workbook(doc, DOCUMENTS)))
            return _download(body, workbook_name(month))
        with tempfile.TemporaryDirectory(prefix="cti-api-report-") as work:
            try:
                made = await write_pdfs(doc, Path(work), (DOCUMENT_NAMES[document],))
            except PdfFailed as exc:
                raise ReportUnavailable(f"the PDF could not be made: {exc}") from None
            body = await asyncio.to_thread(made[0].read_bytes)
            return _download(body, pdf_name(month, DOCUMENT_NAMES[document]))
    report = await monthly_report(settings, sessions, month.year, month.month)
    if fmt == "csv":
        return web.Response(text=report.to_csv(), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition":
                                     f'attachment; filename="cti-report-{month.text}.csv"'})
    if fmt == "text":
        return web.Response(text=report.to_text(), content_type="text/plain", charset="utf-8")
    return reply(report.to_json())


def _kept_json(report: store.ProducedReport, request: web.Request) -> dict[str, Any]:
    zone = request.app[SETTINGS].hours.timezone
    return {
        "id": report.id, "month": report.month, "version": report.version,
        "trigger": report.trigger, "built_by": report.built_by,
        "built_at": wire_time(report.built_at, zone), "received": report.received,
        "checksum": report.checksum, "mailed_at": wire_time_or_none(report.mailed_at, zone),
        "mail_attempts": report.mail_attempts, "mail_error": report.mail_error,
        "files": [{"name": name, "bytes": meta["bytes"], "sha256": meta["sha256"],
                   "content_type": meta["content_type"],
                   "url": f"/api/reports/{report.id}/files/{name}"}
                  for name, meta in sorted(report.files.items())],
    }


@routes.get("/api/reports")
@allow_roles(READERS)
@documented(query={"month": MONTH}, response=obj(reports=array(KEPT)))
async def kept(request: web.Request) -> web.Response:
    month = _month(request).text if "month" in request.query else None
    found = await store.list_produced(request.app[SESSIONS], month)
    return reply({"reports": [_kept_json(r, request) for r in found]})


@routes.get("/api/reports/{id}/files/{name}")
@allow_roles(READERS)
@documented(content_type=(XLSX_TYPE, "application/pdf"))
async def kept_download(request: web.Request) -> web.Response:
    try:
        report_id = int(request.match_info["id"])
    except ValueError:
        raise NotFound("no such report") from None
    name = request.match_info["name"]
    report = await store.get_produced(request.app[SESSIONS], report_id)
    if report is None or name not in report.files:
        raise NotFound(f"no file {name[:80]!r} in report {report_id}")
    try:
        body = await asyncio.to_thread(kept_file, request.app[SETTINGS], report, name)
    except (TamperedFile, OSError) as exc:
        raise ReportUnavailable(f"kept file unavailable: {exc}") from None
    await _audit(request, "report.download", report.month,
                 {"report_id": report.id, "version": report.version, "file": name})
    return _download(body, name)

