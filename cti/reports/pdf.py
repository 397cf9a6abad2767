"""Workbooks to PDF with LibreOffice headless (Debian: libreoffice-calc-nogui, fonts-noto-cjk).

One soffice run converts several files (each start costs seconds). Every run gets its own
throw-away profile (``-env:UserInstallation``) so parallel runs never share a lock, its own
process group so a timeout kills soffice.bin too, and a time limit.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path

import structlog

log = structlog.get_logger()


class PdfFailed(RuntimeError):
    pass


async def convert_to_pdf(sources: Sequence[Path], out_dir: Path, *, soffice: str = "soffice",
                         timeout_s: float = 120.0) -> list[Path]:
    """PDFs of ``sources`` in ``out_dir`` (same stems); raises ``PdfFailed`` naming the cause."""
    if not sources:
        return []
    binary = shutil.which(soffice)
    if binary is None:
        raise PdfFailed(f"LibreOffice not found ({soffice!r}); install libreoffice-calc-nogui")
    profile = Path(tempfile.mkdtemp(prefix="cti-soffice-"))
    command = [binary, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
               "--nologo", "--nodefault", "--convert-to", "pdf", "--outdir", str(out_dir),
               *(str(s) for s in sources)]
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, env={**os.environ, "HOME": str(profile)})
        try:
            async with asyncio.timeout(timeout_s):
                _, stderr = await process.communicate()
        except TimeoutError:
            _kill_group(process.pid)
            await process.wait()
            raise PdfFailed(f"LibreOffice did not finish within {timeout_s:g} s") from None
        except asyncio.CancelledError:
            _kill_group(process.pid)
            await process.wait()
            raise
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    made = [out_dir / f"{s.stem}.pdf" for s in sources]
    missing = [p.name for p in made if not p.is_file() or p.stat().st_size == 0]
    if process.returncode != 0 or missing:
        detail = stderr.decode("utf-8", "replace").strip()[:500]
        raise PdfFailed(f"LibreOffice exit {process.returncode}, missing {missing}: {detail}")
    log.info("reports.pdf_converted", files=len(made))
    return made


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
