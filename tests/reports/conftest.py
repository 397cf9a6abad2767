"""Fixtures for the monthly deliverables: a real SMTP server (the escalation tests' catcher)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "escalation"))  # for `escalation_support`
sys.path.insert(0, str(Path(__file__).parent))  # for `report_support`


@pytest.fixture
def office() -> None:
    """LibreOffice and poppler for the PDF test; a skip fails under CTI_REQUIRE_PEERS=1."""
    missing = [tool for tool in ("soffice", "pdftoppm", "pdftotext", "pdfinfo") if shutil.which(tool) is None]
    if missing:
        message = f"needs {', '.join(missing)} (libreoffice-calc-nogui, poppler-utils)"
        if os.environ.get("CTI_REQUIRE_PEERS") == "1":
            pytest.fail(message + " (CTI_REQUIRE_PEERS=1)")
        pytest.skip(message)


