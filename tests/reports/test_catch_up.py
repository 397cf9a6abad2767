"""A service that was down over the month boundary catches up at start: it builds April (705
calls) with LibreOffice, keeps it with checksums, mails it to the city through a real SMTP
server, and serves it to the console. The suite's one PDF conversion; page images are saved for
a person to look at (the path is printed, and a few are copied to tests/artifacts/reports/)."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from escalation_support import MailCatcher
from tests_support import FixedClock

from cti.auth import digest, new_secret
from cti.config import Settings
from cti.keys import REGISTRY, REPORT_SCHEDULE, SESSIONS
from cti.reports.period import Month
from cti.reports.seed import seed_month
from cti.storage import audit, create_engine, session_factory
from cti.storage import reports as store
from cti.storage.users import add_token

ARTIFACTS = Path(__file__).parent.parent / "artifacts" / "reports"
APRIL = Month(2027, 4)
RESTART = datetime(2027, 5, 10, 1, 0, tzinfo=UTC)  # Monday 10:00 JST; April was due on May 6


def _pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=30, check=True)
    return int(next(line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages:")))


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          timeout=60, check=True).stdout


def _page_images(folder: Path, pdfs: tuple[tuple[Path, int], ...]) -> list[Path]:
    folder.mkdir()
    for pdf, pages in pdfs:
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", str(pages), str(pdf),
                        str(folder / pdf.stem)], check=True, timeout=120)
    return sorted(folder.iterdir())


async def _token(client: TestClient, role: str) -> dict[str, str]:  # type: ignore[type-arg]
    token = new_secret()
    await add_token(client.app[SESSIONS], f"test-{role}", role, digest(token), datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.usefixtures("office")
async def test_catch_up_builds_keeps_mails_and_serves_april(
        aiohttp_client: Callable[..., Awaitable[TestClient]],  # type: ignore[type-arg]
        sqlite_template: Path, make_settings: Callable[..., Settings], tmp_path: Path,
        mail: MailCatcher) -> None:
    from cti.app import build_app

    db = tmp_path / "cti.db"
    shutil.copy(sqlite_template, db)
    settings = make_settings(f"sqlite+aiosqlite:///{db}", CTI_SMTP_HOST="127.0.0.1",
                             CTI_SMTP_PORT=str(mail.port), CTI_REPORTS_FOLDER=str(tmp_path / "kept"))
    engine = create_engine(settings.database.url)  # April happened while the service was down
    try:
        assert await seed_month(settings, session_factory(engine), APRIL, 7, RESTART) == 705
    finally:
        await engine.dispose()

    client = await aiohttp_client(build_app(settings, clock=FixedClock(RESTART)))
    app: Any = client.app
    schedule = app[REPORT_SCHEDULE]
    async with asyncio.timeout(180):
        await schedule.wait_check(0)
    [kept] = await store.list_produced(app[SESSIONS])
    assert (kept.month, kept.version, kept.trigger, kept.received) == ("2027-04", 1, "catch_up", 705)
    folder = Path(settings.reports.folder) / kept.folder
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(kept.files) == ["cti-2027-04-completion-notice.pdf", "cti-2027-04-history.pdf",
                                           "cti-2027-04-monthly-report.pdf", "cti-2027-04.xlsx"]
    for name in names:
        path = folder / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == kept.files[name]["sha256"]
        assert not path.stat().st_mode & 0o222  # read-only
    registry = app[REGISTRY]
    assert registry.get_sample_value("cti_reports_built_total", {"trigger": "catch_up"}) == 1
    assert registry.get_sample_value("cti_reports_failing") == 0

    [message] = await mail.wait_for(1, limit_s=30)
    assert message["To"] == ", ".join(settings.reports.recipients)
    assert "2027年4月分" in str(message["Subject"])
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert sorted(attached) == names
    workbook = kept.files["cti-2027-04.xlsx"]
    assert hashlib.sha256(attached["cti-2027-04.xlsx"]).hexdigest() == workbook["sha256"]
    assert [e.target for e in await audit.entries(app[SESSIONS], action="report.built")] == ["2027-04"]
    assert [e.target for e in await audit.entries(app[SESSIONS], action="report.mailed")] == ["2027-04"]
    [mailed] = await store.list_produced(app[SESSIONS])
    assert mailed.mailed_at == RESTART

    # the PDFs: page counts and Japanese text
    history, monthly, notice = (folder / f"cti-2027-04-{n}.pdf"
                                for n in ("history", "monthly-report", "completion-notice"))
    assert _pdf_pages(notice) == 1
    assert _pdf_pages(monthly) == 4
    assert 705 / 40 <= _pdf_pages(history) <= 705 / 15
    history_text = _pdf_text(history)
    for wanted in ("ヘルプデスク対応履歴票", "2027年4月", "受付番号", "HD-2027-000001",
                   "問い合わせ内容", "SKYSEA", "庁内ポータル"):
        assert wanted in history_text
    monthly_text = _pdf_text(monthly)
    for wanted in ("月次報告書", "サービスレベル", "営業日別", "よくある質問", "年度推移", "705"):
        assert wanted in monthly_text
    notice_text = _pdf_text(notice)
    for wanted in ("業務完了届", settings.reports.contract_name, settings.reports.contractor,
                   "令和9年5月10日", "705件"):
        assert wanted in notice_text

    # page images for a person to look at
    images = tmp_path / "page-images"
    made = _page_images(images, ((history, 1), (monthly, 4), (notice, 1)))
    assert len(made) == 6 and all(p.stat().st_size > 5000 for p in made)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for image in made:
        shutil.copy(image, ARTIFACTS / image.name)
    print(f"\npage images: {images} (copied to {ARTIFACTS})")

    # the console's list and download
    manager = await _token(client, "manager")
    listed = await (await client.get("/api/reports", headers=manager)).json()
    [entry] = listed["reports"]
    assert entry["month"] == "2027-04" and entry["mailed_at"] == "2027-05-10T10:00:00+09:00"
    xlsx = next(f for f in entry["files"] if f["name"] == "cti-2027-04.xlsx")
    download = await client.get(xlsx["url"], headers=manager)
    assert download.status == 200
    assert hashlib.sha256(await download.read()).hexdigest() == xlsx["sha256"]
    operator = await _token(client, "operator")
    assert (await client.get("/api/reports", headers=operator)).status == 403
    tampered = folder / "cti-2027-04.xlsx"
    tampered.chmod(0o644)
    tampered.write_bytes(tampered.read_bytes() + b"x")
    refused = await client.get(xlsx["url"], headers=manager)
    assert refused.status == 503 and (await refused.json())["error_id"] == "report_unavailable"

    # a later check builds and mails nothing more
    assert await schedule.check() == []
    assert len(mail.messages) == 1
