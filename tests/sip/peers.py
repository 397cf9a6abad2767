"""Helpers to run real SIP peers (SIPp, Kamailio, baresip) on free loopback ports."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"
HOST = "127.0.0.1"


def need(binary: str) -> str:
    """Path of a peer binary; skip when missing unless CTI_REQUIRE_PEERS is set (CI)."""
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CTI_REQUIRE_PEERS"):
            pytest.fail(f"{binary} is required (CTI_REQUIRE_PEERS is set) but not installed")
        pytest.skip(f"{binary} not installed")
    return path


def free_udp_port(even: bool = False) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        if not even or port % 2 == 0:
            return port


def part(name: str, **values: object) -> str:
    """A scenario fragment (``*.part``) with its ``{{name}}`` placeholders filled."""
    text = (SCENARIOS / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    return text


def render(template: str, out_dir: Path, **values: object) -> Path:
    """Fill ``{{name}}`` placeholders of a scenario template into ``out_dir``."""
    text = (SCENARIOS / template).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    assert "{{" not in text, f"unfilled placeholder in {template}"
    path = out_dir / template
    path.write_text(text)
    return path


@dataclass
class SippResult:
    returncode: int
    stdout: str
    stderr: str
    errors: str
    messages: str
    logs: str
    rtt_csv: str


async def run_sipp(
    scenario: Path,
    target_port: int,
    work: Path,
    *,
    calls: int = 1,
    timeout_s: float = 20,
    extra: tuple[str, ...] = (),
    rate: float | None = None,
    source: str = HOST,
    target_host: str = HOST,
) -> SippResult:
    """Run one SIPp client to completion (bounded by ``timeout_s``), from ``source``."""
    sipp = need("sipp")
    name = scenario.stem
    local_port = free_udp_port()
    media_port = free_udp_port(even=True)
    err, msg, logf = work / f"{name}.err", work / f"{name}.msg", work / f"{name}.log"
    args = [
        sipp, "-sf", str(scenario), "-m", str(calls), "-nostdin", "-i", source,
        "-p", str(local_port), "-mi", source, "-mp", str(media_port), "-s", "helpdesk",
        "-timeout", f"{int(timeout_s)}s", "-timeout_error",
        "-trace_err", "-error_file", str(err), "-trace_msg", "-message_file", str(msg),
        "-trace_logs", "-log_file", str(logf), "-trace_rtt", "-rtt_freq", "1",
        *(("-r", str(rate)) if rate else ()), *extra,
        f"[{target_host}]:{target_port}" if ":" in target_host else f"{target_host}:{target_port}",
    ]
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=work, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, errout = await asyncio.wait_for(proc.communicate(), timeout_s + 10)
    except BaseException:  # timeout or the test gave up (cancelled): never leave SIPp behind
        if proc.returncode is None:
            proc.kill()
            await asyncio.shield(proc.wait())
        raise
    return collect(work, name, proc.returncode or 0, out, errout, proc.pid)


def collect(work: Path, name: str, rc: int, out: bytes, errout: bytes, pid: int) -> SippResult:
    rtt = "".join(p.read_text() for p in work.glob(f"{name}_{pid}_rtt.csv"))
    err, msg, logf = work / f"{name}.err", work / f"{name}.msg", work / f"{name}.log"

    def read(p: Path) -> str:
        return p.read_text(errors="replace") if p.exists() else ""

    return SippResult(rc, out.decode(errors="replace"),
                      errout.decode(errors="replace"), read(err), read(msg), read(logf), rtt)


def udp_port_bound(port: int) -> bool:
    """Something has bound UDP ``port`` (IPv4 or IPv6) on this host."""
    needle = f":{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            if any(line.split()[1].endswith(needle) for line in list(f)[1:]):
                return True
    return False


async def wait_udp_bound(port: int, within: float = 5.0) -> None:
    """Wait (bounded) until a peer has bound its UDP port; polls the kernel's socket table."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not udp_port_bound(port):
        if loop.time() > deadline:
            raise TimeoutError(f"nothing bound UDP port {port} within {within} s")
        await asyncio.sleep(0.02)


class SippServer:
    """A SIPp UAS (operator phone) running in the background for one call."""

    def __init__(self, scenario: Path, work: Path, *, timeout_s: float = 30) -> None:
        self.scenario = scenario
        self.work = work
        self.port = free_udp_port()
        self.timeout_s = timeout_s
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def uri(self) -> str:
        return f"sip:201@{HOST}:{self.port}"

    async def __aenter__(self) -> SippServer:
        name = self.scenario.stem
        self.proc = await asyncio.create_subprocess_exec(
            need("sipp"), "-sf", str(self.scenario), "-m", "1", "-nostdin", "-i", HOST,
            "-p", str(self.port), "-timeout", f"{int(self.timeout_s)}s", "-timeout_error",
            "-trace_err", "-error_file", str(self.work / f"{name}.err"),
            "-trace_msg", "-message_file", str(self.work / f"{name}.msg"),
            "-trace_logs", "-log_file", str(self.work / f"{name}.log"),
            cwd=self.work, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        await wait_udp_bound(self.port)
        return self

    async def result(self, within: float | None = None) -> SippResult:
        assert self.proc is not None
        out, err = await asyncio.wait_for(self.proc.communicate(), within or self.timeout_s + 10)
        return collect(self.work, self.scenario.stem, self.proc.returncode or 0, out, err,
                       self.proc.pid)

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


class _PeerProcess:
    """A peer running in the background: its log, and a polite stop (terminate, then kill)."""

    log: Path
    proc: asyncio.subprocess.Process | None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class Baresip(_PeerProcess):
    """baresip as an auto-answering operator phone that sends a sine tone."""

    def __init__(self, work: Path, *, tone_hz: int = 1300, codecs: str = "PCMA,PCMU",
                 registrar: tuple[int, str] | None = None, console: bool = False) -> None:
        """``registrar``: (Kamailio port, password) to register as 201 there; ``console``: accept
        menu commands (``/hold``, ``/resume``, ``/transfer URI``) on a UDP port (``command``)."""
        self.dir = work / "baresip"
        self.dir.mkdir(exist_ok=True)
        self.port = free_udp_port()
        self.registrar = registrar
        rtp_low = free_udp_port(even=True)
        aor = f"<sip:201@127.0.0.1:{self.port}>;regint=0"
        if registrar is not None:
            aor = (f"<sip:201@127.0.0.1:{registrar[0]}>;auth_pass={registrar[1]};regint=60"
                   f";outbound=\"sip:127.0.0.1:{registrar[0]}\"")
        values = {"sip_port": self.port, "tone_hz": tone_hz, "rtp_low": rtp_low,
                  "rtp_high": rtp_low + 10, "codecs": codecs, "aor": aor}
        for name in ("config", "accounts"):
            text = (Path(__file__).parent / "baresip" / f"{name}.template").read_text()
            for key, value in values.items():
                text = text.replace("{{" + key + "}}", str(value))
            if name == "config" and console:
                self.console_port = free_udp_port()
                text += (f"module_app\t\tmenu.so\nmodule\t\t\tcons.so\n"
                         f"cons_listen\t\t127.0.0.1:{self.console_port}\n")
            (self.dir / name).write_text(text)
        self.log = work / "baresip.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def uri(self) -> str:
        return f"sip:201@{HOST}:{self.port}"

    def command(self, text: str) -> None:
        """One menu command through the cons module (needs ``console=True``)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(f"{text}\n".encode(), (HOST, self.console_port))

    async def __aenter__(self) -> Baresip:
        logf = self.log.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            need("baresip"), "-f", str(self.dir), stdin=asyncio.subprocess.DEVNULL,
            stdout=logf, stderr=asyncio.subprocess.STDOUT,
        )
        logf.close()
        await wait_udp_bound(self.port)
        if hasattr(self, "console_port"):
            await wait_udp_bound(self.console_port)
        return self



class Kamailio(_PeerProcess):
    """Kamailio 5.6 as registrar + record-routing proxy with digest auth (in-memory usrloc)."""

    def __init__(self, work: Path, *, password: str, port: int | None = None,
                 qop: bool = True) -> None:
        self.port = port or free_udp_port()
        self.cfg = work / f"kamailio-{self.port}.cfg"
        text = (Path(__file__).parent / "kamailio" / "kamailio.cfg.template").read_text()
        values = {"port": self.port, "password": password, "qop_flag": 1 if qop else 0}
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", str(value))
        self.cfg.write_text(text)
        self.log = work / f"kamailio-{self.port}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Kamailio:
        logf = self.log.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            need("kamailio"), "-f", str(self.cfg), "-DD", "-E", "-n", "2", "-m", "32", "-M", "8",
            "-Y", str(self.cfg.parent), stdin=asyncio.subprocess.DEVNULL, stdout=logf,
            stderr=asyncio.subprocess.STDOUT,
        )
        logf.close()
        await wait_udp_bound(self.port)
        return self



async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Poll a condition (bounded) for state that no event announces."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)
