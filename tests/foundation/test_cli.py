"""The `cti` command as an admin runs it: real subprocesses, a real port, real signals."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from tests_support import free_port

from cti.config import default_config_path

CTI = [sys.executable, "-m", "cti"]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CTI, *args], cwd=cwd, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=60, check=False)


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> list[str]:
    """Read the service's stdout until a line contains ``needle``; the lines read so far."""
    assert proc.stdout is not None
    lines: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not selector.select(timeout=deadline - time.monotonic()):
            break
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} not seen; output so far: {''.join(lines)}")


def interrupt(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Ctrl-C, as an admin would, and what the service printed until it exited."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=30)


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_serve_upgrade_users_tokens_and_clean_shutdown(tmp_path: Path) -> None:
    env = {"CTI_SIP_MODE": "off"}
    refused = run(["serve", "--http", f"127.0.0.1:{free_port()}"], tmp_path, **env)
    assert refused.returncode == 1
    assert "run `cti db upgrade` first" in refused.stderr

    upgraded = run(["db", "upgrade"], tmp_path, **env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "database schema at revision" in upgraded.stdout
    assert (tmp_path / "var" / "cti.db").exists()  # the embedded default lives under ./var/

    added = run(["user", "add", "sv01", "--role", "supervisor"], tmp_path, CTI_PASSWORD="kumo-ringo-hashi-27",
                **env)
    assert added.returncode == 0, added.stderr
    again = run(["user", "add", "sv01", "--role", "operator", "--operator", "op01"], tmp_path,
                CTI_PASSWORD="kumo-ringo-hashi-27",
                **env)
    assert again.returncode == 1 and "already exists" in again.stderr
    made = run(["token", "create", "grafana", "--role", "manager"], tmp_path, **env)
    assert made.returncode == 0
    token = made.stdout.strip().splitlines()[-1]
    assert len(token) >= 40 and " " not in token

    port = free_port()
    proc = subprocess.Popen([*CTI, "serve", "--http", f"127.0.0.1:{port}"], cwd=tmp_path,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        started = wait_for_line(proc, "service.started")
        assert json.loads(started[-1])["event"] == "service.started"  # JSON: not a terminal
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body)["db"] == "ok"
        status, _ = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        status, _ = get(f"http://127.0.0.1:{port}/api/calendar")
        assert status == 401
        status, body = get(f"http://127.0.0.1:{port}/api/calendar", token)
        assert status == 200 and "open" in json.loads(body)
        out, err = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert "service.stopped" in out
    assert "Traceback" not in out + err
    assert "Task was destroyed" not in out + err


def test_config_check_warns_when_the_rtp_range_cannot_hold_max_calls(tmp_path: Path) -> None:
    """A pair of RTP ports per caller and per operator leg: the shipped range fits its cap; a
    narrow range or no cap at all is named."""
    from cti.cli.serve import capacity_warnings
    from cti.config import load_settings

    shipped = load_settings(default_config_path(), {})
    assert capacity_warnings(shipped) == []
    narrow = load_settings(default_config_path(), {"CTI_SIP_RTP_PORTS": "10000-10999",
                                                   "CTI_SIP_MAX_CALLS": "2000"})
    assert "callers beyond 250 get 503" in capacity_warnings(narrow)[0]
    uncapped = load_settings(default_config_path(), {"CTI_SIP_MAX_CALLS": "0"})
    assert "no cap" in capacity_warnings(uncapped)[0]
    result = run(["config", "check"], tmp_path, CTI_SIP_RTP_PORTS="10000-10099")
    assert result.returncode == 0 and "warning: sip.rtp_ports 10000-10099" in result.stderr


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Makes the config check see the C or the Python media core, whichever is built here."""
    import cti.sip.media.rtp

    return lambda name: monkeypatch.setattr(cti.sip.media.rtp, "core_name", lambda: name)


def test_config_check_warns_when_the_media_workers_cannot_keep_max_calls_on_time(
        core: Callable[[str], None]) -> None:
    """A media worker keeps about 2,000 callers' audio on time on the C core, 1,000 on the
    Python one (measured): a cap above what the configured workers hold is named, with the
    setting that fixes it."""
    from cti.cli.serve import capacity_warnings
    from cti.config import load_settings

    def warnings(**env: str) -> list[str]:
        settings = load_settings(default_config_path(), {f"CTI_SIP_{k.upper()}": v
                                                         for k, v in env.items()})
        return [w for w in capacity_warnings(settings) if "on time" in w and "core is" not in w]

    core("c")
    assert warnings() == []  # the shipped cap (200) and one worker
    assert warnings(max_calls="2000") == []
    (one,) = warnings(max_calls="2400")
    assert "2400 calls at once" in one and "1 media worker(s) on the c media core" in one
    assert "about 2000" in one and "each 2000 calls a media worker" in one
    assert "sip.media_workers" in one
    assert warnings(max_calls="2400", media_workers="2") == []
    (in_process,) = warnings(max_calls="2000", media_workers="0")
    assert "own loop" in in_process and "about 1000" in in_process
    (uncapped,) = warnings(max_calls="0")  # the RTP range is then the cap: 2,500 calls
    assert "0 (no cap: the RTP range caps) allows 2500 calls" in uncapped
    core("python")
    (one,) = warnings(max_calls="2000")
    assert "on the python media core" in one and "about 1000" in one
    (in_process,) = warnings(max_calls="1000", media_workers="0")
    assert "about 400" in in_process


def test_config_check_warns_when_the_c_media_core_is_not_running(
        core: Callable[[str], None], tmp_path: Path) -> None:
    from cti.cli.serve import capacity_warnings
    from cti.config import load_settings

    shipped = load_settings(default_config_path(), {})
    core("c")
    assert capacity_warnings(shipped) == []
    core("python")
    (warning,) = capacity_warnings(shipped)
    assert "media core is Python" in warning and "build-essential python3-dev" in warning
    result = run(["config", "check"], tmp_path, CTI_MEDIA_CORE="python")  # a process of its own
    assert result.returncode == 0 and "warning: the media core is Python" in result.stderr
    wrong = run(["config", "check"], tmp_path, CTI_MEDIA_CORE="fast")  # not a crash: a warning
    assert wrong.returncode == 0, wrong.stderr
    assert "warning: CTI_MEDIA_CORE='fast' is not auto, c or python" in wrong.stderr
    off = load_settings(default_config_path(), {"CTI_SIP_MODE": "off"})
    assert capacity_warnings(off) == []


def test_config_check_warns_when_the_media_priority_cannot_be_raised(
        monkeypatch: pytest.MonkeyPatch, core: Callable[[str], None]) -> None:
    import cti.sip.media
    from cti.cli.serve import capacity_warnings
    from cti.config import load_settings

    shipped = load_settings(default_config_path(), {})
    core("c")
    monkeypatch.setattr(cti.sip.media.os, "geteuid", lambda: 1000)  # an unprivileged user
    monkeypatch.setattr(cti.sip.media, "CAP_SYS_NICE", 63)  # a capability nobody has
    monkeypatch.setattr(cti.sip.media.resource, "getrlimit", lambda _r: (0, 0))  # LimitNICE=0
    (warning,) = capacity_warnings(shipped)
    assert "sip.media_nice = -10" in warning and "normal priority" in warning
    in_process = load_settings(default_config_path(), {"CTI_SIP_MEDIA_WORKERS": "0"})
    assert capacity_warnings(in_process) == []
    assert cti.sip.media.may_lower_priority(0)  # leaving the priority as it is always works


def test_config_check_masks_secrets_and_names_bad_keys(tmp_path: Path) -> None:
    ok = run(["config", "check"], tmp_path, CTI_SIP_PASSWORD="hunter2-secret",
             CTI_DATABASE_URL="postgresql+asyncpg://cti:dbpass-secret@127.0.0.1/cti")
    assert ok.returncode == 0, ok.stderr
    effective = json.loads(ok.stdout)
    assert effective["sip"]["password"] == "********"
    assert "hunter2-secret" not in ok.stdout and "dbpass-secret" not in ok.stdout
    assert effective["database"]["url"] == "postgresql+asyncpg://cti:********@127.0.0.1/cti"
    assert effective["services"][0]["id"] == "isolation"

    bad = tmp_path / "bad.toml"
    shipped = default_config_path().read_text(encoding="utf-8")
    bad.write_text(shipped.replace('listen = "127.0.0.1:8080"', 'listen = "127.0.0.1:99999"'),
                   encoding="utf-8")
    failed = run(["config", "check", "--config", str(bad)], tmp_path)
    assert failed.returncode == 2
    assert "http.listen" in failed.stderr and "HOST:PORT" in failed.stderr


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    result = run(["serve", "--http", f"127.0.0.1:{free_port()}"], tmp_path,
                 CTI_DATABASE_URL=url, CTI_SIP_MODE="off")
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(["serve", "--http", f"127.0.0.1:{port}"], tmp_path, CTI_SIP_MODE="off")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize("role", ["root", ""])
def test_user_add_refuses_unknown_role(tmp_path: Path, role: str) -> None:
    result = run(["user", "add", "x", "--role", role], tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_serve_answers_sip_in_direct_mode_by_default(tmp_path: Path) -> None:
    import socket

    assert run(["db", "upgrade"], tmp_path).returncode == 0
    sip_port, http_port = free_port(socket.SOCK_DGRAM), free_port()
    proc = subprocess.Popen([*CTI, "serve", "--http", f"127.0.0.1:{http_port}",
                             "--sip", f"127.0.0.1:{sip_port}"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_line(proc, "service.started")
        status, body = get(f"http://127.0.0.1:{http_port}/healthz")
        assert status == 200 and json.loads(body)["sip"] == "direct"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.settimeout(5)
            peer.bind(("127.0.0.1", 0))
            port = peer.getsockname()[1]
            peer.sendto((
                f"OPTIONS sip:5000@127.0.0.1:{sip_port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-cli-1\r\n"
                "From: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:5000@127.0.0.1>\r\n"
                "Call-ID: cli-options@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", sip_port))
            answer = peer.recv(4096).decode()
        assert answer.startswith("SIP/2.0 200")
        assert "Call-ID: cli-options@127.0.0.1" in answer
        out, err = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and "Traceback" not in out + err


def test_prompts_build_writes_8khz_wavs_for_the_configured_menu(tmp_path: Path) -> None:
    import shutil
    import wave

    if shutil.which("open_jtalk") is None and shutil.which("espeak-ng") is None:
        if os.environ.get("CTI_REQUIRE_PEERS") == "1":
            pytest.fail("neither open_jtalk nor espeak-ng is installed")
        pytest.skip("no speech synthesiser")
    folder = tmp_path / "prompts"
    folder.mkdir()
    built = run(["prompts", "build", "--dir", str(folder)], tmp_path)
    assert built.returncode == 0, built.stderr
    text = (folder / "menu_2_skysea.txt").read_text(encoding="utf-8")
    assert "2番" in text and "press 2" in text  # Japanese first, English second
    with wave.open(str(folder / "menu_2_skysea.wav")) as audio:
        assert (audio.getframerate(), audio.getnchannels()) == (8000, 1)
        assert audio.getnframes() > 8000  # more than a second of speech
