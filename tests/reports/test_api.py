"""The console's routes: the month's workbook on demand, the list of kept sets, bad requests."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cti.keys import SESSIONS, SETTINGS
from cti.reports.period import Month
from cti.reports.seed import seed_month
from cti.storage import audit

Client = TestClient  # type: ignore[type-arg]


async def test_workbook_on_demand_and_the_kept_list(client: Client, as_role: Callable[[str], Any]) -> None:
    app: Any = client.app
    await seed_month(app[SETTINGS], app[SESSIONS], Month(2027, 2), 4, datetime(2027, 3, 1, tzinfo=UTC),
                     calls=30)
    manager = await as_role("manager")
    response = await client.get("/api/reports/monthly", headers=manager,
                                params={"month": "2027-02", "format": "xlsx"})
    assert response.status == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="cti-2027-02.xlsx"'
    wb = load_workbook(io.BytesIO(await response.read()))
    assert wb.sheetnames == ["対応履歴票", "月次報告書", "業務完了届"]
    assert wb["対応履歴票"].max_row == 3 + 30
    logged = await audit.entries(app[SESSIONS], action="report.monthly")
    assert logged[0].target == "2027-02" and logged[0].detail == {"format": "xlsx"}

    listed = await (await client.get("/api/reports", headers=manager)).json()
    assert listed == {"reports": []}
    missing = await client.get("/api/reports/99/files/cti-2027-02.xlsx", headers=manager)
    assert missing.status == 404

    for params, field in (({"month": "2027-02", "format": "docx"}, "format"),
                          ({"month": "2027-02", "format": "pdf", "document": "all"}, "document"),
                          ({"month": "2027-13", "format": "xlsx"}, "month"), ({}, "month")):
        bad = await client.get("/api/reports/monthly", headers=manager, params=params)
        assert bad.status == 400 and (await bad.json())["details"]["field"] == field
    operator = await as_role("operator")
    for path in ("/api/reports", "/api/reports/1/files/x.pdf"):
        assert (await client.get(path, headers=operator)).status == 403
    assert (await client.get("/api/reports/monthly", headers=operator,
                             params={"month": "2027-02", "format": "xlsx"})).status == 403


async def test_a_pdf_that_cannot_be_made_is_a_clear_server_error(
        aiohttp_client: Callable[..., Any], database_url: str,
        make_settings: Callable[..., Any], tmp_path: Path) -> None:
    from cti.app import build_app
    from cti.auth import digest, new_secret
    from cti.storage.users import add_token

    settings = make_settings(database_url, CTI_REPORTS_SOFFICE=str(tmp_path / "no-soffice"))
    client = await aiohttp_client(build_app(settings))
    token = new_secret()
    await add_token(client.app[SESSIONS], "test-admin", "admin", digest(token), datetime.now(UTC))
    response = await client.get("/api/reports/monthly", headers={"Authorization": f"Bearer {token}"},
                                params={"month": "2027-02", "format": "pdf", "document": "history"})
    assert response.status == 503
    body = await response.json()
    assert body["error_id"] == "report_unavailable" and "LibreOffice not found" in body["message"]
    assert body["fault"] == "server"
