"""``cti seed-month`` and ``cti report`` as an admin runs them (real subprocesses, SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

CTI = [sys.executable, "-m", "cti"]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CTI_DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'cti.db'}",
           "CTI_PRIVACY_CALLER_HASH_SECRET": "test-secret-0123456789abcdef0123456789"}
    return subprocess.run([*CTI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_seed_a_month_then_write_its_workbook(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    seeded = run(["seed-month", "--month", "2027-02", "--seed", "3"], tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.strip() == "seeded 130 calls into 2027-02"
    written = run(["report", "--month", "2027-02", "--format", "xlsx", "--out", "out"], tmp_path)
    assert written.returncode == 0, written.stderr
    path = tmp_path / written.stdout.strip()
    assert path == tmp_path / "out" / "cti-2027-02.xlsx"
    assert load_workbook(path)["対応履歴票"].max_row == 3 + 130
    summary = run(["report", "--month", "2027-02", "--format", "json"], tmp_path)
    assert json.loads(summary.stdout)["received"] == 130
    bad = run(["report", "--month", "Feb", "--format", "xlsx"], tmp_path)
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr
