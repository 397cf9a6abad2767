"""Each start-up failure names the part that failed: SIP port, HTTP port, database, journal."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests_support import free_port

CTI = [sys.executable, "-m", "cti"]


def serve(cwd: Path, http_port: int, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CTI, "serve", "--http", f"127.0.0.1:{http_port}"], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
                          check=False)


def upgraded(tmp_path: Path) -> None:
    done = subprocess.run([*CTI, "db", "upgrade"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, "CTI_SIP_MODE": "off"})
    assert done.returncode == 0, done.stderr


def test_a_busy_sip_port_is_named_as_the_sip_port(tmp_path: Path) -> None:
    upgraded(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        result = serve(tmp_path, free_port(), CTI_SIP_MODE="direct",
                       CTI_SIP_LISTEN=f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert (f"cti: cannot start, SIP port: cannot listen on udp 127.0.0.1:{port}: "
            "Address already in use") in result.stderr
    assert "database" not in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_a_busy_http_port_is_named_as_the_http_port(tmp_path: Path) -> None:
    upgraded(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = serve(tmp_path, port, CTI_SIP_MODE="off")
    assert result.returncode == 1
    assert f"cti: cannot start, HTTP port: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "database" not in result.stderr


def test_an_unreachable_database_and_an_unwritable_journal_are_named(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    result = serve(tmp_path, free_port(), CTI_DATABASE_URL=url, CTI_SIP_MODE="off")
    assert result.returncode == 1
    assert f"cti: cannot start, database: cannot reach the database {url}" in result.stderr
    assert "SIP" not in result.stderr

    upgraded(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = serve(tmp_path, free_port(), CTI_SIP_MODE="off",
                   CTI_DATABASE_JOURNAL=str(blocker / "journal.jsonl"))
    assert result.returncode == 1
    assert f"cti: cannot start, journal: cannot open the journal {blocker}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
