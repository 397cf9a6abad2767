"""SIGKILL of a real `cti serve` in the middle of real SIP calls, then a restart.

Two SIPp callers are in the middle of their calls when the service is killed: one listens to the
menu, one asked for a callback (nobody with the portal skill is logged in) and hears the
confirmation. Nothing records their end. The restarted service closes both before it takes
calls: outcome ``interrupted``, the last state on the timeline, and the callback still to do.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests_support import free_port, wait_for

from cti.config import default_config_path

sys.path.insert(0, str(Path(__file__).parents[1] / "sip"))
from peers import HOST, free_udp_port, need, part, render

pytestmark = pytest.mark.peers
CTI = [sys.executable, "-m", "cti"]

@pytest.fixture
def sipp_callers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def start_caller(work: Path, name: str, digit_part: str, sip_port: int,
                 started: list[subprocess.Popen[bytes]]) -> None:
    """A SIPp caller that stays on the line for a minute (after pressing a digit, if given)."""
    (work / name).mkdir()
    path = render("uac_digit.xml", work / name, digit_part=digit_part, stay_ms=60_000,
                  end_part="")
    started.append(subprocess.Popen(
        [need("sipp"), "-sf", str(path), "-m", "1", "-nostdin",
         "-i", HOST, "-p", str(free_udp_port()), "-mi", HOST,
         "-mp", str(free_udp_port(even=True)), "-s", "helpdesk", "-timeout", "90s",
         f"{HOST}:{sip_port}"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def kinds(db: Path) -> dict[str, list[str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute("SELECT call_id, kind FROM call_events ORDER BY call_id, seq").fetchall()
    out: dict[str, list[str]] = {}
    for call_id, kind in rows:
        out.setdefault(call_id, []).append(kind)
    return out


def read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    """The first line of the service's output that holds ``needle`` (bounded wait)."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and selector.select(timeout=deadline - time.monotonic()):
        line = proc.stdout.readline()
        if not line:
            break
        if needle in line:
            return line
    pytest.fail(f"{needle!r} not seen in the service's output")


def serve(work: Path, env: dict[str, str], http_port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([*CTI, "serve", "--http", f"127.0.0.1:{http_port}"], cwd=work,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_sigkill_mid_call_then_restart_closes_the_calls_and_keeps_the_callback(
    tmp_path: Path, sipp_callers: list[subprocess.Popen[bytes]]
) -> None:
    need("sipp")
    db = tmp_path / "var" / "cti.db"
    sip_port = free_udp_port()
    env = {"CTI_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
           "CTI_DATABASE_JOURNAL": str(tmp_path / "var" / "journal.jsonl"),
           "CTI_PRIVACY_CALLER_HASH_SECRET": "test-secret-0123456789abcdef0123456789",
           "CTI_SIP_MODE": "direct", "CTI_SIP_LISTEN": f"{HOST}:{sip_port}",
           "CTI_SIP_RTP_PORTS": "32000-32999", "CTI_HOURS_OVERRIDE": "open", "CTI_CONFIG":
           str(default_config_path())}
    upgraded = subprocess.run([*CTI, "db", "upgrade"], cwd=tmp_path, env={**os.environ, **env},
                              capture_output=True, text=True, timeout=60, check=False)
    assert upgraded.returncode == 0, upgraded.stderr
    first = serve(tmp_path, env, free_port())
    try:
        read_until(first, "service.started")
        start_caller(tmp_path, "menu", "", sip_port, sipp_callers)
        start_caller(tmp_path, "callback", part("uac_info_digit.part", before_ms=600, digit=3),
                     sip_port, sipp_callers)  # nobody with the portal skill: a callback

        def both_mid_call() -> bool:
            timelines = list(kinds(db).values())
            return len(timelines) == 2 and any("callback_requested" in t for t in timelines)
        wait_for("both calls to be recorded mid-call", both_mid_call, detail=lambda: kinds(db))
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate(timeout=10)
    before = kinds(db)
    assert all("ended" not in timeline for timeline in before.values()), before
    for proc in sipp_callers:
        proc.kill()

    second = serve(tmp_path, env, free_port())
    try:
        report = json.loads(read_until(second, "calls.recovered"))
        assert report["closed"] == 2 and report["skipped"] == 0
        assert report["by_state"] == {"in_ivr": 1, "callback_requested": 1}
        read_until(second, "service.started")  # only after the calls were closed
    finally:
        second.send_signal(signal.SIGINT)
        out, _ = second.communicate(timeout=30)
    assert "Traceback" not in out
    with sqlite3.connect(db) as conn:
        tickets = conn.execute("SELECT t.outcome, t.status, c.outcome FROM tickets t "
                               "JOIN calls c ON c.id = t.call_id ORDER BY t.status").fetchall()
        ends = [json.loads(data) for (data,) in conn.execute(
            "SELECT data FROM call_events WHERE kind = 'ended' ORDER BY call_id")]
    assert sorted(tickets) == [("interrupted", "callback_requested", "interrupted"),
                               ("interrupted", "new", "interrupted")]
    states = sorted(e["last_state"]["state"] for e in ends)
    assert states == ["callback_requested", "in_ivr"]
    assert all(e["recovered"] and e["hung_up_by"] == "system" for e in ends)
