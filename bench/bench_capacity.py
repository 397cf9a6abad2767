"""Capacity benchmark (issue 14): the whole service under SIPp load, against a SIPp->SIPp ceiling.

Run (all traffic on 127.0.0.1; needs sipp and, for PostgreSQL, the server on 127.0.0.1:5432):

    .venv/bin/python bench/bench_capacity.py                 # short run, about 4 minutes
    .venv/bin/python bench/bench_capacity.py --full          # the issue's ramp (about 15 minutes):
        # short calls 20 50 100 200 300 400 calls/s, 20 s per step, SQLite and PostgreSQL;
        # held callers 100 500 1000 1500 2000, held 60 s each
    .venv/bin/python bench/bench_capacity.py --rates --held --soak-s 3600  # the 1-hour soak
    .venv/bin/python bench/bench_capacity.py --backends postgres --rates 200 --step-s 20 \
        --held --no-ceiling --profile /tmp/flame-200cps.svg   # py-spy flame graph of one step

The service runs as its own process (``python -m cti serve``, JSON logs at the default level into
a file) with a fresh database, five operators whose phones are one SIPp UAS that answers at once,
wrap-up 1 s, hours forced open. Each phase starts a fresh service, so one phase's debris does not bias
the next.

Short calls ("full work"): SIPp caller INVITE -> 200 -> ACK -> INFO digit 2 (SKYSEA, after
300 ms) -> queue with hold tone -> an operator leg when one is free -> caller BYE after
``--talk-ms``. Printed per step: calls answered / refused with 503 (back-pressure; from the
service's metrics) / failed, INVITE->200 p50/p99 (SIPp's
response-time measurement, of answered and refused INVITEs alike), ticket drain time (from
the last call's end until the journal is fully applied, read from its ``.applied`` sidecar),
calls rows in the database (of which refusals), cti CPU (% of one core, from /proc/PID/stat)
and CPU ms per call, busy % of each core (/proc/stat), peak RSS. Then the same rates
SIPp->SIPp (a SIPp UAS answering the same scenario): the ceiling of the load generator on
this machine, and the cti/SIPp ratios.

Held callers (storm): N callers arrive over ``--held-ramp-s`` s, pick a service, wait in the
queue (no operator available) with the hold tone while sending looped PCMU (rtp_stream) for
``--hold-s`` s, then hang up. Every caller's SDP points at one capture socket of this benchmark
(a separate process; kernel receive times), which keys the service's RTP by SSRC: per caller
the packet rate and the largest gap between two packets, over the whole call (from its first
packet to its last: arrivals and hang-ups of the storm included) and over the plateau (the
whole seconds when every caller is held). Printed: failures, INVITE->200 p50/p99, min/median
packets/s per caller, max and p99 gap, streams below 49 pkt/s, for both; cti CPU (of which
the media worker) and peak RSS.

Every loop is bounded: SIPp runs with ``-m`` and ``-timeout``, waits have deadlines.
"""

from __future__ import annotations

import argparse
import asyncio
import audioop
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "sip"))

from bench_sip import sipp_counts  # noqa: E402
from peers import HOST, _PeerProcess, free_udp_port, need, wait_udp_bound  # noqa: E402
from pg import pg_admin  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
SO_TIMESTAMPNS = 35  # Linux (asm-generic/socket.h); the socket module does not name it
HASH_SECRET = "bench-secret-0123456789abcdef0123456789"

# -- SIPp scenarios -------------------------------------------------------------------------------
_INVITE = """  <send retrans="500" start_rtd="answer">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2345@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:2345@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP4 [local_ip]
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio {{media_port}} RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="503" optional="true" next="refused"/>
  <recv response="200" rtd="answer" rrs="true"/>
"""


def _in_dialog(method: str, cseq: int, body: str = "", ctype: str = "") -> str:
    extra = f"      Content-Type: {ctype}\n" if ctype else ""
    return f"""  <send retrans="500">
    <![CDATA[

      {method} [next_url] SIP/2.0
      [routes]
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2345@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: sip:2345@[local_ip]:[local_port]
      Max-Forwards: 70
{extra}      Content-Length: [len]

{body}
    ]]>
  </send>
"""


_ACK = _in_dialog("ACK", 1).replace(' retrans="500"', "")
_REFUSED = """  <nop next="end"/>
  <label id="refused"/>
  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2345@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <nop><action><exec int_cmd="stop_call"/></action></nop>
  <label id="end"/>
"""


def caller_scenario(*, talk_ms: int, media_port: str, audio: Path | None = None) -> str:
    """INVITE, ACK, INFO digit 2 after 300 ms, ``talk_ms`` (with rtp_stream when ``audio``), BYE.
    A 503 (refused: back-pressure, capacity) ends the call at once; SIPp counts it as
    successful, so the benchmark takes the refusals from the service's metrics."""
    rtp = (f'  <nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>\n' if audio else "")
    return ("<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n"
            "<!DOCTYPE scenario SYSTEM \"sipp.dtd\">\n<scenario name=\"caller\">\n"
            + _INVITE.replace("{{media_port}}", media_port) + _ACK + rtp
            + '  <pause milliseconds="300"/>\n'
            + _in_dialog("INFO", 2, "      Signal=2\n      Duration=160\n",
                         "application/dtmf-relay")
            + '  <recv response="200"/>\n'
            + f'  <pause milliseconds="{talk_ms}"/>\n'
            + _in_dialog("BYE", 3) + '  <recv response="200" crlf="true"/>\n'
            + _REFUSED + "</scenario>\n")


def _reply(code: str, sdp: bool) -> str:
    body = ("      Content-Type: application/sdp\n      Content-Length: [len]\n\n"
            "      v=0\n      o=op 1 1 IN IP4 [local_ip]\n      s=-\n      c=IN IP4 [media_ip]\n"
            "      t=0 0\n      m=audio [media_port] RTP/AVP 0\n      a=rtpmap:0 PCMU/8000\n"
            if sdp else "      Content-Length: 0\n\n")
    return f"""  <send{' retrans="500"' if sdp else ''}>
    <![CDATA[

      SIP/2.0 {code}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:201@[local_ip]:[local_port];transport=[transport]>
{body}
    ]]>
  </send>
"""


# The operators' phones: answer at once, wait for the BYE the service sends when the caller
# leaves. The ceiling UAS: the same, plus the caller's INFO.
OPERATOR_UAS = ("<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"operators\">\n"
                '  <recv request="INVITE" crlf="true"/>\n' + _reply("200 OK", True)
                + '  <recv request="ACK" crlf="true"/>\n  <recv request="BYE"/>\n'
                + _reply("200 OK", False) + "</scenario>\n")
CEILING_UAS = ("<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"ceiling\">\n"
               '  <recv request="INVITE" crlf="true"/>\n' + _reply("100 Trying", False)
               + _reply("200 OK", True)
               + '  <recv request="ACK" crlf="true"/>\n  <recv request="INFO"/>\n'
               + _reply("200 OK", False) + '  <recv request="BYE"/>\n'
               + _reply("200 OK", False) + "</scenario>\n")


# -- measuring ------------------------------------------------------------------------------------
def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def proc_counts(pid: int) -> tuple[int, int]:
    """(open fds, threads) of a process and its children (the media workers)."""
    pids = [pid, *children(pid)]
    return (sum(len(os.listdir(f"/proc/{p}/fd")) for p in pids),
            sum(len(os.listdir(f"/proc/{p}/task")) for p in pids))


def children(pid: int) -> list[int]:
    """The service's child processes (its media workers)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def tree_rss_mb(pid: int) -> float:
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            total += proc_rss_mb(p)
        except OSError:
            pass
    return total


def core_times() -> list[tuple[int, int]]:
    """(busy, total) jiffies per core from /proc/stat."""
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            v = [int(x) for x in line.split()[1:]]
            idle = v[3] + v[4]
            out.append((sum(v) - idle, sum(v)))
    return out


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Watch:
    """CPU of one process (% of one core), busy % per core and peak RSS over a phase."""

    pid: int
    cpu0: dict[int, float] = field(default_factory=dict)
    t0: float = 0.0
    cores0: list[tuple[int, int]] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    def start(self) -> None:
        self.cpu0 = {p: proc_cpu_s(p) for p in [self.pid, *children(self.pid)]}
        self.t0, self.cores0 = time.monotonic(), core_times()

    def sample(self) -> None:
        self.peak_rss_mb = max(self.peak_rss_mb, tree_rss_mb(self.pid))

    def stop(self) -> dict[str, Any]:
        """CPU of the service and of its media workers (children), apart and together."""
        used = {}
        for p, before in self.cpu0.items():
            try:
                used[p] = proc_cpu_s(p) - before
            except OSError:
                used[p] = 0.0
        cpu_s = sum(used.values())
        media_s = cpu_s - used[self.pid]
        wall = time.monotonic() - self.t0
        cores = [100 * (b1 - b0) / max(1, t1 - t0)
                 for (b0, t0), (b1, t1) in zip(self.cores0, core_times(), strict=True)]
        return {"cpu_s": cpu_s, "cpu_pct": 100 * cpu_s / wall, "cores_pct": cores,
                "media_cpu_pct": 100 * media_s / wall, "peak_rss_mb": self.peak_rss_mb}


async def watched(watch: Watch, work: Awaitable[Any]) -> Any:
    task = asyncio.ensure_future(work)
    while not task.done():
        watch.sample()
        await asyncio.wait([task], timeout=0.5)
    return task.result()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


@dataclass
class Sipp:
    ok: int
    failed: int
    rtt_ms: list[float]
    stdout: str
    rtt_at_ms: list[float] = field(default_factory=list)  # when each INVITE was sent (SIPp's ms)


SIPP_RTP_TASKS = 0  # --sipp-rtp-tasks: RTP streams per SIPp thread (0: SIPp's default, 20)


async def run_sipp(scenario: Path, target: int | None, work: Path, *, calls: int, rate: float,
                   limit: int, timeout_s: float, uas: bool = False, port: int | None = None,
                   media_port: int | None = None) -> Sipp:
    """One SIPp run to completion, bounded by ``-timeout`` and a wall-clock deadline."""
    name = scenario.stem
    args = [need("sipp"), "-sf", str(scenario), "-m", str(calls), "-nostdin", "-i", HOST,
            "-p", str(port or free_udp_port()), "-mi", HOST,
            "-mp", str(media_port or free_udp_port(even=True)),
            "-timeout", f"{int(timeout_s)}s", "-timeout_error", "-max_socket", "60000",
            "-trace_err", "-error_file", str(work / f"{name}.err")]
    if SIPP_RTP_TASKS:
        args += ["-rtp_threadtasks", str(SIPP_RTP_TASKS)]
    if not uas:
        args += ["-s", "helpdesk", "-r", str(rate), "-l", str(limit), "-trace_rtt",
                 "-rtt_freq", "1", "-recv_timeout", "30000", f"{HOST}:{target}"]
    proc = await asyncio.create_subprocess_exec(*args, cwd=work, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s + 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    ok, failed = sipp_counts(text)
    rtt = await asyncio.to_thread(_rtt, work, name, proc.pid)
    return Sipp(ok, failed, [ms for _at, ms in rtt], text, [at for at, _ms in rtt])


def _rtt(work: Path, name: str, pid: int) -> list[tuple[float, float]]:
    """SIPp's INVITE->200 response times from its -trace_rtt file: (when, ms)."""
    rows = [x.split(";") for p in work.glob(f"{name}_{pid}_rtt.csv")
            for x in p.read_text().splitlines() if x[:1].isdigit()]
    return [(float(r[0]), float(r[-2])) for r in rows]


class SippUas(_PeerProcess):
    """A SIPp UAS in the background (operators' phones or the ceiling's answering side)."""

    def __init__(self, scenario: Path, work: Path, calls: int, timeout_s: float) -> None:
        self.scenario, self.work, self.calls, self.timeout_s = scenario, work, calls, timeout_s
        self.port = free_udp_port()
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> SippUas:
        self.proc = await asyncio.create_subprocess_exec(
            need("sipp"), "-sf", str(self.scenario), "-m", str(self.calls), "-nostdin",
            "-i", HOST, "-p", str(self.port), "-mi", HOST,
            "-mp", str(free_udp_port(even=True)), "-timeout", f"{int(self.timeout_s)}s",
            "-max_socket", "60000", "-trace_err",
            "-error_file", str(self.work / f"{self.scenario.stem}.err"),
            cwd=self.work, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await wait_udp_bound(self.port)
        return self


# -- the service under test -----------------------------------------------------------------------
class Service:
    """``python -m cti serve`` on a fresh database, five operators available."""

    def __init__(self, backend: str, work: Path, operator_uri: str, args: argparse.Namespace,
                 tag: str) -> None:
        self.backend, self.work, self.args = backend, work / tag, args
        self.work.mkdir()
        self.operator_uri = operator_uri
        self.sip_port = free_udp_port()
        self.http_port = free_udp_port()
        self.db_name = f"cti_bench_{os.getpid()}_{tag.replace('-', '_')}"
        self.url = (f"sqlite+aiosqlite:///{self.work / 'cti.db'}" if backend == "sqlite" else
                    f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.db_name}")
        self.journal = self.work / "journal.jsonl"
        self.proc: asyncio.subprocess.Process | None = None

    def _config(self) -> Path:
        from cti.config import default_config_path  # the shipped config of the code under test

        text = default_config_path().read_text(encoding="utf-8")
        for n in range(1, 6):
            text = text.replace(f'uri = "sip:220{n}@127.0.0.1:5070"',
                                f'uri = "{self.operator_uri.replace("201@", f"220{n}@")}"')
        text = text.replace("wrap_up_seconds = 60", "wrap_up_seconds = 1").replace(
            "wrap_up_seconds = 90", "wrap_up_seconds = 1")
        if self.args.soak_s:  # the soak's held callers wait all along, not the shipped 600 s
            text = text.replace("max_wait_seconds = 600",
                                f"max_wait_seconds = {int(self.args.soak_s) + 600}")
        path = self.work / "helpdesk.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "CTI_DATABASE_URL": self.url, "CTI_DATABASE_JOURNAL": str(self.journal),
            "CTI_PRIVACY_CALLER_HASH_SECRET": HASH_SECRET, "CTI_SIP_MODE": "direct",
            "CTI_SIP_LISTEN": f"{HOST}:{self.sip_port}", "CTI_HTTP": f"{HOST}:{self.http_port}",
            "CTI_SIP_RTP_PORTS": self.args.rtp_ports, "CTI_SIP_MAX_CALLS": str(self.args.max_calls),
            "CTI_HOURS_OVERRIDE": "open", "CTI_LOG_FORMAT": "json",
            "CTI_CONFIG": str(self._config()),
        })
        if self.args.no_uvloop:
            env["CTI_UVLOOP"] = "0"
        if self.args.gc_default:
            env["CTI_GC"] = "default"
        if self.args.media_workers is not None:
            env["CTI_SIP_MEDIA_WORKERS"] = str(self.args.media_workers)
        if self.args.max_answer_delay_ms is not None:
            env["CTI_SIP_MAX_ANSWER_DELAY_MS"] = str(self.args.max_answer_delay_ms)
        return env

    async def __aenter__(self) -> Service:
        from cti.auth import digest
        from cti.storage import create_engine, session_factory, upgrade
        from cti.storage.users import add_token

        if self.backend == "postgres":
            await pg_admin(f"CREATE DATABASE {self.db_name}")
        engine = create_engine(self.url)
        try:
            await upgrade(engine)
            from datetime import UTC, datetime
            for n in range(1, 6):
                await add_token(session_factory(engine), f"bench{n}", "operator",
                                digest(f"bench-token-{n:02d}-0123456789abcdef"),
                                datetime.now(UTC), operator_id=f"op0{n}")
        finally:
            await engine.dispose()
        self.log = (self.work / "cti.log").open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cti", "serve", env=self.env(), cwd=self.work,
            stdout=self.log, stderr=asyncio.subprocess.STDOUT)
        await self._ready()
        return self

    async def _ready(self) -> None:
        import aiohttp

        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc is not None and self.proc.returncode is not None:
                    raise RuntimeError(f"cti exited: {(self.work / 'cti.log').read_text()[-2000:]}")
                try:
                    async with http.get(f"http://{HOST}:{self.http_port}/healthz") as resp:
                        if resp.status in (200, 503):
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("cti did not start within 60 s")
                await asyncio.sleep(0.2)
            await wait_udp_bound(self.sip_port)
            for n in range(1, 6):
                async with http.put(
                        f"http://{HOST}:{self.http_port}/api/operators/op0{n}/state",
                        json={"state": "available"},
                        headers={"Authorization":
                                 f"Bearer bench-token-{n:02d}-0123456789abcdef"}) as resp:
                    if resp.status != 200:
                        raise RuntimeError(f"op0{n} not available: {resp.status} "
                                           f"{await resp.text()}")

    async def drained_within(self, limit_s: float) -> float | None:
        """Seconds until every journalled event is in the database (None: not within limit)."""
        t0 = time.monotonic()
        applied = self.journal.with_name(self.journal.name + ".applied")
        while time.monotonic() - t0 < limit_s:
            size = self.journal.stat().st_size if self.journal.exists() else 0
            try:
                done = int(applied.read_text().strip() or 0)
            except (FileNotFoundError, ValueError):
                done = 0
            if done >= size:
                return time.monotonic() - t0
            await asyncio.sleep(0.05)
        return None

    async def refused_total(self) -> int:
        """Every INVITE answered 503 so far (cti_sip_invites_refused_total, all reasons)."""
        import aiohttp

        async with aiohttp.ClientSession() as http, \
                http.get(f"http://{HOST}:{self.http_port}/metrics") as resp:
            text = await resp.text()
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("cti_sip_invites_refused_total{")))

    def gc_pauses(self) -> list[float]:
        """The service's logged garbage-collection pauses (ms), ``runtime.gc_pause``; a media
        worker's count negative (they stop audio, the others stop signalling)."""
        pauses = []
        for line in (self.work / "cti.log").read_text(errors="replace").splitlines():
            if '"runtime.gc_pause"' in line:
                event = json.loads(line)
                sign = -1 if str(event.get("process", "")).startswith("media") else 1
                pauses.append(sign * float(event["pause_ms"]))
        return pauses

    async def count_calls(self) -> tuple[int, int]:
        """(calls rows, of which refused with 503) in the database."""
        from sqlalchemy import text

        from cti.storage import create_engine

        engine = create_engine(self.url)
        try:
            async with engine.connect() as conn:
                calls = (await conn.execute(text("SELECT count(*) FROM calls"))).scalar_one()
                tickets = (await conn.execute(text(
                    "SELECT count(*) FROM calls WHERE outcome = 'refused'"))).scalar_one()
        finally:
            await engine.dispose()
        return int(calls), int(tickets)

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.log.close()
        if self.args.keep is not None:  # the service's log of this step
            self.args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.work / "cti.log", self.args.keep / f"{self.work.name}.log")
        if self.backend == "postgres":
            await pg_admin(f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")


async def py_spy(pid: int, out: str, seconds: float) -> asyncio.subprocess.Process:
    spy = Path(sys.executable).with_name("py-spy")
    return await asyncio.create_subprocess_exec(
        str(spy), "record", "-o", out, "--pid", str(pid), "--duration", str(int(seconds)),
        "--rate", "200", "--nonblocking",
        *(["--format", "raw"] if out.endswith(".txt") else []),  # collapsed stacks, to grep
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)


# -- phases ---------------------------------------------------------------------------------------
def fmt_cores(cores: list[float]) -> str:
    return "/".join(f"{c:.0f}" for c in cores)


async def short_calls(backend: str, work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    scenario = work / "caller.xml"
    scenario.write_text(caller_scenario(talk_ms=args.talk_ms, media_port="[media_port]"))
    rows = []
    for rate in args.rates:
        calls = int(rate * args.step_s)
        async with SippUas(work / "operators.xml", work, 10**6, 3600) as ops, \
                Service(backend, work, f"sip:201@{HOST}:{ops.port}", args,
                        f"{backend}-{rate}") as service:
            assert service.proc is not None
            watch = Watch(service.proc.pid)
            watch.start()
            spy = None
            if args.profile and rate == args.rates[-1]:
                spy = await py_spy(service.proc.pid, args.profile, args.step_s)
            result = await watched(watch, run_sipp(
                scenario, service.sip_port, work, calls=calls, rate=rate,
                limit=max(50, int(rate * (args.talk_ms / 1000 + 3))), timeout_s=args.step_s + 60))
            figures = watch.stop()
            drain = await service.drained_within(120)
            db_calls, recorded = await service.count_calls()
            refused = await service.refused_total()
            fds, threads = proc_counts(service.proc.pid)
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"{backend}-{rate}-rtt.csv").write_text("".join(
                    f"{at:.0f};{ms:.0f}\n" for at, ms in zip(result.rtt_at_ms, result.rtt_ms,
                                                             strict=True)))
            if spy is not None:
                await asyncio.wait_for(spy.wait(), 60)
        row = {"backend": backend, "rate": rate, "calls": calls, "ok": result.ok,
               "failed": result.failed, "p50_ms": percentile(result.rtt_ms, 0.5),
               "p99_ms": percentile(result.rtt_ms, 0.99), "drain_s": drain,
               "db_calls": db_calls, "refused_503": refused, "refused_recorded": recorded,
               "cpu_ms_per_call": 1000 * figures["cpu_s"] / max(1, calls),
               "fds": fds, "threads": threads, "load": load_average(), **figures}
        rows.append(row)
        print(f"  {backend:8} {rate:4} cps: answered={row['ok'] - refused} refused(503)={refused} "
              f"failed={row['failed']} "
              f"p50={row['p50_ms']:.1f} p99={row['p99_ms']:.1f} ms "
              f"drain={f'{drain:.1f} s' if drain is not None else '>120 s'} "
              f"calls rows={db_calls}/{calls} (refused {recorded}) "
              f"cti cpu={row['cpu_pct']:.0f}% (media {row['media_cpu_pct']:.0f}%) "
              f"({row['cpu_ms_per_call']:.1f} ms/call) cores={fmt_cores(row['cores_pct'])}% "
              f"rss={row['peak_rss_mb']:.0f} MB load={row['load']}", flush=True)
    return rows


async def ceiling(work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    scenario = work / "caller.xml"
    scenario.write_text(caller_scenario(talk_ms=args.talk_ms, media_port="[media_port]"))
    rows = []
    for rate in args.rates:
        calls = int(rate * args.step_s)
        async with SippUas(work / "ceiling.xml", work, 10**6, 3600) as uas:
            assert uas.proc is not None
            watch = Watch(uas.proc.pid)
            watch.start()
            result = await watched(watch, run_sipp(
                scenario, uas.port, work, calls=calls, rate=rate,
                limit=max(50, int(rate * (args.talk_ms / 1000 + 3))), timeout_s=args.step_s + 60))
            figures = watch.stop()
        row = {"rate": rate, "ok": result.ok, "failed": result.failed,
               "p50_ms": percentile(result.rtt_ms, 0.5), "p99_ms": percentile(result.rtt_ms, 0.99),
               "cpu_ms_per_call": 1000 * figures["cpu_s"] / max(1, calls), **figures}
        rows.append(row)
        print(f"  sipp-uas {rate:4} cps: ok={row['ok']} failed={row['failed']} "
              f"p50={row['p50_ms']:.1f} p99={row['p99_ms']:.1f} ms uas cpu={row['cpu_pct']:.0f}% "
              f"({row['cpu_ms_per_call']:.2f} ms/call) load={load_average()}", flush=True)
    return rows


# The capture side of the storm: one socket, RTP keyed by SSRC; run as `--capture PORT FILE`.
def capture(port: int, out: Path, seconds: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024 * 1024)
    try:  # past net.core.rmem_max (root only): a short stall of this process must not drop
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUFFORCE, 64 * 1024 * 1024)
    except (OSError, AttributeError):
        pass
    sock.bind((HOST, port))
    sock.settimeout(0.5)
    # Kernel receive times (SO_TIMESTAMPNS): on loopback the time the service's sendto ran, so a
    # stall of this process (2 cores shared with the service and SIPp) is not counted as a gap.
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    stop = time.monotonic() + seconds
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    gap: dict[int, float] = {}
    count: dict[int, int] = {}
    seconds_of: dict[int, dict[int, int]] = {}  # per stream: packets per whole second
    late: dict[int, list[tuple[float, float]]] = {}  # per stream: (time, gap) of gaps > 40 ms
    done = False

    def finish(*_: object) -> None:
        nonlocal done
        done = True

    signal.signal(signal.SIGTERM, finish)
    unpack = struct.Struct("!8xI").unpack_from
    stamp = struct.Struct("@qq").unpack_from
    recvmsg = sock.recvmsg
    space = socket.CMSG_SPACE(16)
    now = time.monotonic
    while not done and now() < stop:
        try:
            data, ancillary, _flags, _addr = recvmsg(2048, space)
        except TimeoutError:
            continue
        if len(data) < 12 or not ancillary:
            continue
        sec, nsec = stamp(ancillary[0][2])
        t = sec + nsec * 1e-9
        (ssrc,) = unpack(data)
        prev = last.get(ssrc)
        if prev is None:
            first[ssrc], count[ssrc], gap[ssrc] = t, 0, 0.0
            seconds_of[ssrc], late[ssrc] = {}, []
        else:
            if t - prev > gap[ssrc]:
                gap[ssrc] = t - prev
            if t - prev > 0.040 and len(late[ssrc]) < 1000:
                late[ssrc].append((t, t - prev))
        last[ssrc] = t
        count[ssrc] += 1
        buckets = seconds_of[ssrc]
        buckets[int(t)] = buckets.get(int(t), 0) + 1
    out.write_text(json.dumps({str(s): [first[s], last[s], count[s], gap[s], seconds_of[s],
                                        late[s]] for s in first}))
    print(f"  capture: receive buffer {sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)} "
          f"bytes, kernel drops {_udp_drops(port)}", flush=True)


def _udp_drops(port: int) -> int:
    """The kernel's drop counter of the UDP socket bound to ``port`` (/proc/net/udp)."""
    needle = f":{port:04X}"
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(needle):
            return int(fields[-1])
    return -1


async def held_storm(backend: str, work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    audio = work / "caller.ulaw"
    from cti.sip.audio import sine

    audio.write_bytes(audioop.lin2ulaw(sine((700.0,), 1.0), 2))
    rows = []
    for held in args.held:
        cap_port = free_udp_port()
        cap_out = work / f"capture-{held}.json"
        scenario = work / f"held-{held}.xml"
        scenario.write_text(caller_scenario(talk_ms=int(args.hold_s * 1000),
                                            media_port=str(cap_port), audio=audio))
        # --capture-every N: one caller in N has its audio captured, the others' goes to a sink
        # socket nobody reads (the service's work is the same for both): a Python capture of
        # all 100,000 packets/s of 2,000 callers needs a core this 2-core machine does not have.
        captured = held if args.capture_every <= 1 else max(1, held // args.capture_every)
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sink.bind((HOST, 0))
        sunk = work / f"held-{held}-sink.xml"
        sunk.write_text(caller_scenario(talk_ms=int(args.hold_s * 1000),
                                        media_port=str(sink.getsockname()[1]), audio=audio))
        cap = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--capture", str(cap_port), str(cap_out),
            str(args.held_ramp_s + args.hold_s + 180))
        try:
            await wait_udp_bound(cap_port)
            async with SippUas(work / "operators.xml", work, 10**6, 3600) as ops, \
                    Service(backend, work, f"sip:201@{HOST}:{ops.port}", args,
                            f"held-{backend}-{held}") as service:
                assert service.proc is not None
                # Nobody answers: the operators are away, the callers stay queued with hold tone.
                await _operators_away(service)
                watch = Watch(service.proc.pid)
                watch.start()
                spy = None
                if args.profile_held and held == args.held[-1]:
                    spy_delay = args.held_ramp_s + min(5.0, args.hold_s / 4)

                    async def later(spy_delay: float = spy_delay) -> asyncio.subprocess.Process:
                        await asyncio.sleep(spy_delay)
                        assert service.proc is not None  # the media worker, where there is one
                        pid = (children(service.proc.pid) or [service.proc.pid])[0]
                        return await py_spy(pid, args.profile_held, max(5.0, args.hold_s / 2))

                    spy = asyncio.ensure_future(later())
                t_start = time.monotonic()
                timeout_s = args.held_ramp_s + args.hold_s + 90
                runs = [run_sipp(scenario, service.sip_port, work, calls=captured,
                                 rate=captured / args.held_ramp_s, limit=captured,
                                 timeout_s=timeout_s)]
                if held > captured:
                    runs.append(run_sipp(sunk, service.sip_port, work, calls=held - captured,
                                         rate=(held - captured) / args.held_ramp_s,
                                         limit=held - captured, timeout_s=timeout_s))
                parts = await watched(watch, asyncio.gather(*runs))
                result = Sipp(sum(r.ok for r in parts), sum(r.failed for r in parts),
                              [ms for r in parts for ms in r.rtt_ms], parts[0].stdout)
                figures = watch.stop()
                drain = await service.drained_within(120)
                db_calls, recorded = await service.count_calls()
                refused = await service.refused_total()
                pauses = await asyncio.to_thread(service.gc_pauses)
                if spy is not None:
                    await asyncio.wait_for((await spy).wait(), 120)
        finally:
            sink.close()
            if cap.returncode is None:
                cap.send_signal(signal.SIGTERM)
            await asyncio.wait_for(cap.wait(), 30)
        streams = await asyncio.to_thread(_read_json, cap_out)
        if args.keep is not None and cap_out.exists():  # per stream: seconds, gaps
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(cap_out, args.keep / f"capture-{backend}-{held}.json")
        rates, gaps, plateau_rates, plateau_gaps, plateau_s = _stream_figures(streams)
        del t_start
        row = {"backend": backend, "held": held, "ok": result.ok, "failed": result.failed,
               "p50_ms": percentile(result.rtt_ms, 0.5), "p99_ms": percentile(result.rtt_ms, 0.99),
               "streams": len(rates), "min_pps": min(rates, default=0.0),
               "median_pps": statistics.median(rates) if rates else 0.0,
               "below_49": sum(1 for r in rates if r < 49),
               "max_gap_ms": max(gaps, default=0.0), "p99_gap_ms": percentile(gaps, 0.99),
               "median_gap_ms": statistics.median(gaps) if gaps else 0.0,
               "plateau_s": plateau_s, "plateau_min_pps": min(plateau_rates, default=0.0),
               "plateau_median_pps": statistics.median(plateau_rates) if plateau_rates else 0.0,
               "plateau_below_49": sum(1 for r in plateau_rates if r < 49),
               "plateau_max_gap_ms": round(max(plateau_gaps, default=0.0)),  # 0: none > 40
               "drain_s": drain, "db_calls": db_calls, "refused_503": refused,
               "refused_recorded": recorded, "gc_pauses_ms": pauses,
               "load": load_average(), **figures}
        rows.append(row)
        print(f"  {backend:8} {held:5} held: answered={row['ok'] - refused} "
              f"refused(503)={refused} failed={row['failed']} "
              f"p50={row['p50_ms']:.1f} p99={row['p99_ms']:.1f} ms streams={row['streams']}\n"
              f"    whole calls: pkt/s min={row['min_pps']:.1f} median={row['median_pps']:.1f} "
              f"below49={row['below_49']} gap max={row['max_gap_ms']:.0f} "
              f"p99={row['p99_gap_ms']:.0f} median={row['median_gap_ms']:.0f} ms\n"
              + (f"    plateau ({row['plateau_s']} s, every caller held): pkt/s "
                 f"min={row['plateau_min_pps']:.1f} median={row['plateau_median_pps']:.1f} "
                 f"below49={row['plateau_below_49']} gap max="
                 f"{row['plateau_max_gap_ms'] or '(none over 40)'} ms\n" if row["plateau_s"]
                 else "    plateau: none (the callers were never all held for 2 s)\n")
              + f"    calls rows={db_calls}/{held} (refused {recorded}) "
              f"gc pauses>=50ms={len(pauses)} (max {max(map(abs, pauses), default=0):.0f} ms, "
              f"{sum(1 for p in pauses if p < 0)} in media) "
              f"cti cpu={row['cpu_pct']:.0f}% (media {row['media_cpu_pct']:.0f}%) "
              f"cores={fmt_cores(row['cores_pct'])}% rss={row['peak_rss_mb']:.0f} MB "
              f"load={row['load']}", flush=True)
    return rows


async def soak(backend: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``--soak-s`` seconds of 10 short calls/s plus ``--soak-held`` callers on hold all along:
    RSS, open fds and threads sampled every ``--soak-every-s``; flat means within 10 %."""
    audio = work / "soak.ulaw"
    from cti.sip.audio import sine

    await asyncio.to_thread(audio.write_bytes, audioop.lin2ulaw(sine((700.0,), 1.0), 2))
    short_xml, held_xml = work / "soak-short.xml", work / "soak-held.xml"
    short_xml.write_text(caller_scenario(talk_ms=args.talk_ms, media_port="[media_port]"))
    held_xml.write_text(caller_scenario(talk_ms=int((args.soak_s + 10) * 1000),
                                        media_port="[media_port]", audio=audio))
    samples: list[tuple[float, float, int, int]] = []
    async with SippUas(work / "operators.xml", work, 10**7, args.soak_s + 600) as ops, \
            Service(backend, work, f"sip:201@{HOST}:{ops.port}", args, f"soak-{backend}") as svc:
        assert svc.proc is not None
        pid = svc.proc.pid
        held = asyncio.ensure_future(run_sipp(
            held_xml, svc.sip_port, work, calls=args.soak_held, rate=args.soak_held / 5,
            limit=args.soak_held, timeout_s=args.soak_s + 60))
        await asyncio.sleep(10)  # the held callers are in
        short = asyncio.ensure_future(run_sipp(
            short_xml, svc.sip_port, work, calls=int(10 * args.soak_s), rate=10, limit=200,
            timeout_s=args.soak_s + 60))
        t0 = time.monotonic()
        while not short.done():
            fds, threads = proc_counts(pid)
            samples.append((time.monotonic() - t0, tree_rss_mb(pid), fds, threads))
            print(f"  soak t={samples[-1][0]:5.0f} s rss={samples[-1][1]:.0f} MB fds={fds} "
                  f"threads={threads} load={load_average()}", flush=True)
            await asyncio.wait([short], timeout=args.soak_every_s)
        short_result, held_result = await short, await held
    first, last = samples[min(1, len(samples) - 1)], samples[-1]  # after warm-up
    row = {"backend": backend, "seconds": args.soak_s, "held": args.soak_held,
           "short_ok": short_result.ok, "short_failed": short_result.failed,
           "held_ok": held_result.ok, "held_failed": held_result.failed,
           "rss_mb": [first[1], last[1], max(s[1] for s in samples)],
           "fds": [first[2], last[2], max(s[2] for s in samples)],
           "threads": [first[3], last[3], max(s[3] for s in samples)], "load": load_average()}
    print(f"  soak {backend}: short ok={short_result.ok} failed={short_result.failed}, held "
          f"ok={held_result.ok} failed={held_result.failed}; first/last/max after warm-up: "
          f"rss {first[1]:.0f}/{last[1]:.0f}/{row['rss_mb'][2]:.0f} MB "
          f"({100 * (last[1] - first[1]) / first[1]:+.1f} %), fds {first[2]}/{last[2]}/"
          f"{row['fds'][2]}, threads {first[3]}/{last[3]}/{row['threads'][2]}", flush=True)
    return row


def _stream_figures(streams: dict[str, Any]) -> tuple[
        list[float], list[float], list[float], list[float], int]:
    """Per captured stream: packets/s and largest gap over the whole call, and over the
    plateau: the whole seconds after the last caller's first packet and before the first
    caller's last (every caller held at once). Returns (rates, gaps in ms, plateau rates,
    plateau gaps in ms, plateau seconds)."""
    rates, gaps = [], []
    for first, last, count, gap, *_ in streams.values():
        if last - first > 1.0:
            rates.append(count / (last - first))
            gaps.append(gap * 1000)
    lives = [v for v in streams.values() if v[1] - v[0] > 1.0]
    if not lives:
        return rates, gaps, [], [], 0
    start = int(max(v[0] for v in lives)) + 1
    stop = int(min(v[1] for v in lives))  # exclusive: the second of the first hang-up
    if stop - start < 2:
        return rates, gaps, [], [], 0
    plateau_rates, plateau_gaps = [], []
    for _first, _last, _count, _gap, seconds, late in lives:
        inside = sum(seconds.get(str(sec), 0) for sec in range(start, stop))
        plateau_rates.append(inside / (stop - start))
        worst = max((g for t, g in late if start <= t < stop), default=0.0)
        plateau_gaps.append(worst * 1000)
    return rates, gaps, plateau_rates, plateau_gaps, stop - start


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


async def _operators_away(service: Service) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        for n in range(1, 6):
            async with http.put(f"http://{HOST}:{service.http_port}/api/operators/op0{n}/state",
                                json={"state": "away"},
                                headers={"Authorization":
                                         f"Bearer bench-token-{n:02d}-0123456789abcdef"}) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"op0{n} not away: {resp.status} {await resp.text()}")


def _code_version() -> tuple[str, str]:
    """Where the code under test lives (the venv's cti package) and its commit, if any."""
    import cti

    code = os.path.dirname(os.path.dirname(os.path.realpath(cti.__file__)))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code,
                            capture_output=True, text=True).stdout.strip()
    return code, commit or "(not a checkout)"


async def main(args: argparse.Namespace) -> None:
    code, commit = await asyncio.to_thread(_code_version)
    print(f"== bench_capacity {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC, "
          f"nproc={os.cpu_count()}, load={load_average()}, code={code} {commit}, "
          f"python={sys.executable}", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "operators.xml").write_text(OPERATOR_UAS)
        (work / "ceiling.xml").write_text(CEILING_UAS)
        if args.rates:
            for backend in args.backends:
                print(f"== short calls with full work, {backend}", flush=True)
                results[f"short-{backend}"] = await short_calls(backend, work, args)
            if not args.no_ceiling:
                print("== SIPp -> SIPp ceiling, same scenario and rates", flush=True)
                results["ceiling"] = await ceiling(work, args)
        for backend in args.held_backends if args.held else ():
            print(f"== held callers with hold audio, {backend}", flush=True)
            results[f"held-{backend}"] = await held_storm(backend, work, args)
        if args.soak_s:
            print(f"== soak: {args.soak_s:.0f} s of 10 calls/s with {args.soak_held} callers on "
                  f"hold, {args.held_backends[0]}", flush=True)
            results["soak"] = await soak(args.held_backends[0], work, args)
    if "ceiling" in results:
        print("== ratios (cti CPU ms per call / SIPp UAS CPU ms per call)")
        ceil = {r["rate"]: r for r in results["ceiling"]}
        for backend in args.backends:
            for row in results.get(f"short-{backend}", []):
                c = ceil.get(row["rate"])
                if c and c["cpu_ms_per_call"]:
                    print(f"  {backend:8} {row['rate']:4} cps: "
                          f"{row['cpu_ms_per_call'] / c['cpu_ms_per_call']:.0f}x the CPU, "
                          f"p99 {row['p99_ms']:.1f} vs {c['p99_ms']:.1f} ms")
    if args.json:
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(results, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capture", nargs=3, metavar=("PORT", "FILE", "SECONDS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help="the issue's ramp (about 15 min)")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--held-backends", nargs="+", default=["postgres"])
    parser.add_argument("--rates", type=int, nargs="*", default=[20, 100, 200])
    parser.add_argument("--step-s", type=float, default=8.0)
    parser.add_argument("--talk-ms", type=int, default=1000)
    parser.add_argument("--held", type=int, nargs="*", default=[100, 400])
    parser.add_argument("--hold-s", type=float, default=20.0)
    parser.add_argument("--capture-every", type=int, default=1,
                        help="capture the audio of one held caller in N (the rest: a sink)")
    parser.add_argument("--sipp-rtp-tasks", type=int, default=0,
                        help="RTP streams per SIPp thread (SIPp's -rtp_threadtasks; default 20: "
                             "2,000 callers are 100 threads that wake together)")
    parser.add_argument("--held-ramp-s", type=float, default=5.0)
    parser.add_argument("--soak-s", type=float, default=0.0,
                        help="then a soak this long (the issue's: 3600) at 10 calls/s")
    parser.add_argument("--soak-held", type=int, default=100)
    parser.add_argument("--soak-every-s", type=float, default=30.0)
    parser.add_argument("--rtp-ports", default="20000-29999")
    parser.add_argument("--max-calls", type=int, default=5000)
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--no-uvloop", action="store_true",
                        help="plain asyncio event loop even where uvloop is installed")
    parser.add_argument("--gc-default", action="store_true",
                        help="CPython's garbage-collector defaults (no freeze, no thresholds)")
    parser.add_argument("--media-workers", type=int,
                        help="the service's media worker processes (0 = in-process; default: "
                             "its own)")
    parser.add_argument("--max-answer-delay-ms", type=int,
                        help="the service's back-pressure threshold (0 = off; default: its own)")
    parser.add_argument("--profile", metavar="SVG",
                        help="py-spy flame graph of the last rate step (a .txt name: collapsed "
                             "stacks instead)")
    parser.add_argument("--profile-held", metavar="SVG",
                        help="py-spy flame graph of the media worker on the largest held "
                             "plateau (a .txt name: collapsed stacks)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep each step's service log (JSON lines), INVITE->200 times "
                             "(per call: SIPp's ms;ms) and held capture (per stream: first and "
                             "last packet, packets per second, gaps over 40 ms with their times)")
    parser.add_argument("--json", help="also write the raw figures to this file")
    ns = parser.parse_args()
    if ns.capture:
        capture(int(ns.capture[0]), Path(ns.capture[1]), float(ns.capture[2]))
        sys.exit(0)
    SIPP_RTP_TASKS = ns.sipp_rtp_tasks
    if ns.full:
        ns.rates, ns.step_s = [20, 50, 100, 200, 300, 400], 20.0
        ns.held, ns.hold_s, ns.held_ramp_s = [100, 500, 1000, 1500, 2000], 60.0, 20.0
    asyncio.run(main(ns))
