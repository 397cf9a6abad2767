"""Nothing lost under faults: 200 real SIP calls through `cti serve` on PostgreSQL, four faults.

For each fault a fresh database (on a private PostgreSQL server made with initdb, so that it can
be restarted and stopped) and a fresh journal; SIPp places ``--calls`` calls at ``--rate`` calls/s
(INVITE, ACK, a SIP INFO digit, a few seconds in the queue or with an operator, BYE), a SIPp UAS
answers for every operator, and in the middle of the burst one of:

- ``kill``: SIGKILL of `cti serve`, restarted at once on the same ports;
- ``pg_restart``: PostgreSQL restarted (fast);
- ``pg_stop``: PostgreSQL stopped for 10 s, then started;
- ``flood``: ``--flood`` INVITEs from one source that never ACK (while the legitimate calls go on).

Printed per fault: calls placed, answered (200 OK to the INVITE), tickets, tickets with a terminal
outcome, duplicates (a call with more than one ticket or more than one end), legitimate calls
refused (placed but not answered). Target: placed = answered = tickets = terminal, 0 duplicates,
0 refused.

    .venv/bin/python bench/bench_faults.py [--calls 200] [--rate 15] [--flood 2000]
        [--faults kill,pg_restart,pg_stop,flood]

Needs root (runuser postgres for initdb/pg_ctl), sipp and PostgreSQL's server binaries. Bounded:
every wait has a deadline; each fault takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import asyncpg

HOST = "127.0.0.1"
FAULT_AT_S = 5.0
SERVICE_START_S = 60.0
DRAIN_S = 90.0
CTI = [sys.executable, "-m", "cti"]
SECRET = "bench-secret-0123456789abcdef0123"

SCENARIOS = Path(__file__).parents[1] / "tests" / "sip" / "scenarios"


def scenario(template: str, **values: object) -> str:
    """A SIPp scenario (or ``.part``) of tests/sip/scenarios with its placeholders filled."""
    text = (SCENARIOS / template).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    return text


def caller_scenario() -> str:
    """INVITE, ACK, SKYSEA (digit 2) by SIP INFO, 3 s in the queue or with an operator, BYE."""
    return scenario("uac_digit.xml", digit_part=scenario("uac_info_digit.part", before_ms=800,
                                                         digit=2),
                    stay_ms=3000, end_part=scenario("uac_bye.part"))


def operators_scenario(media_port: int) -> str:
    """Every operator's phone: answers at once, waits for the BYE."""
    return scenario("uas_operator.xml", ring_ms=0, media_port=media_port, codec=0,
                    then=scenario("uas_then_wait_bye.part", bye_timeout_ms=60_000))


FLOOD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="bench_flood">
  <send><![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:flood@[local_ip]:[local_port]>;tag=[pid]F[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: flood-[call_id]
      CSeq: 1 INVITE
      Contact: sip:flood@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

  ]]></send>
</scenario>
"""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of our own (initdb), so that it can be restarted and stopped."""

    bin_dir: str
    root: str
    port: int

    @classmethod
    def create(cls) -> PrivatePostgres:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found or shutil.which("runuser") is None or os.geteuid() != 0:
            sys.exit("bench_faults: needs root, runuser and PostgreSQL's server binaries")
        root = tempfile.mkdtemp(prefix="cti-bench-pg-")
        shutil.chown(root, "postgres", "postgres")
        server = cls(os.path.dirname(found[-1]), root, free_port())
        server._run("initdb", "-D", server.data, "-A", "trust", "-U", "postgres", "--no-sync")
        server.start()
        return server

    @property
    def data(self) -> str:
        return f"{self.root}/data"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@{HOST}:{self.port}/{database}"

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", f"{self.bin_dir}/{tool}", *args],
                       check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-w", "-t", "60", "-l", f"{self.data}/server.log",
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses={HOST} "
                  "-c max_connections=200", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-w", "-t", "60", "-m", "fast", "-l",
                  f"{self.data}/server.log", "restart")  # -l: the server must not hold our pipes

    def destroy(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", f"{self.bin_dir}/pg_ctl", "-D",
                        self.data, "-m", "immediate", "stop"], capture_output=True, timeout=60,
                       check=False)
        shutil.rmtree(self.root, ignore_errors=True)


class Service:
    """`cti serve` as an admin runs it; its output goes to a log file."""

    def __init__(self, work: Path, env: dict[str, str], http_port: int) -> None:
        self.work, self.env, self.http_port = work, env, http_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.work / f"serve-{self.starts}.log", "wb")  # the process owns it
        self.proc = subprocess.Popen([*CTI, "serve", "--http", f"{HOST}:{self.http_port}"],
                                     cwd=self.work, env={**os.environ, **self.env}, stdout=log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SERVICE_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"bench_faults: cti serve exited; see {log.name}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.http_port}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)  # polling an external process's port
        sys.exit("bench_faults: cti serve did not start in time")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def available(http_port: int, token: str, operator: str) -> None:
    request = urllib.request.Request(
        f"http://{HOST}:{http_port}/api/operators/{operator}/state", method="PUT",
        data=json.dumps({"state": "available"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def cli(work: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*CTI, *args], cwd=work, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        sys.exit(f"bench_faults: cti {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def sipp(work: Path, name: str, scenario: str, target: int | None, *args: str) -> subprocess.Popen[bytes]:
    path = work / f"{name}.xml"
    path.write_text(scenario)
    binary = shutil.which("sipp")
    if binary is None:
        sys.exit("bench_faults: sipp not installed (Debian sip-tester)")
    command = [binary, "-sf", str(path), "-nostdin", "-i", HOST, "-mi", HOST,
               "-mp", str(free_port(socket.SOCK_DGRAM) & ~1), *args]
    if target is not None:
        command += ["-s", "helpdesk", f"{HOST}:{target}"]
    return subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def placed_and_answered(message_file: Path) -> tuple[set[str], set[str]]:
    """Call-IDs SIPp sent an INVITE for, and those whose INVITE got a 200 OK."""
    placed: set[str] = set()
    answered: set[str] = set()
    text = message_file.read_text(errors="replace") if message_file.exists() else ""
    for block in re.split(r"\n-{10,}[^\n]*\n", text):
        call = re.search(r"^Call-ID:\s*(\S+)", block, re.MULTILINE | re.IGNORECASE)
        if call is None:
            continue
        if re.search(r"message sent", block) and re.search(r"^INVITE ", block, re.MULTILINE):
            placed.add(call.group(1))
        elif (re.search(r"message received", block) and "SIP/2.0 200" in block
              and re.search(r"^CSeq:\s*\d+ INVITE", block, re.MULTILINE | re.IGNORECASE)):
            answered.add(call.group(1))
    return placed, answered


async def counts(dsn: str, call_ids: set[str]) -> tuple[int, int, int]:
    """(tickets, tickets with a terminal outcome, duplicates) for these calls."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        ids = sorted(call_ids)
        tickets = await conn.fetchval(
            "SELECT count(*) FROM tickets WHERE call_id = ANY($1::text[])", ids)
        terminal = await conn.fetchval(
            "SELECT count(*) FROM tickets WHERE call_id = ANY($1::text[]) AND outcome IS NOT NULL",
            ids)
        duplicates = await conn.fetchval(
            "SELECT (SELECT count(*) FROM (SELECT call_id FROM tickets WHERE call_id = ANY($1::text[])"
            " GROUP BY call_id HAVING count(*) > 1) t) + (SELECT count(*) FROM (SELECT call_id FROM "
            "call_events WHERE kind = 'ended' AND call_id = ANY($1::text[]) GROUP BY call_id "
            "HAVING count(*) > 1) e)", ids)
        return int(tickets), int(terminal), int(duplicates)
    finally:
        await conn.close()


async def settle(dsn: str, answered: set[str]) -> tuple[int, int, int]:
    """Wait (bounded) until every answered call has a terminal ticket, or the figures stop moving."""
    deadline = time.monotonic() + DRAIN_S
    last: tuple[int, int, int] | None = None
    steady = 0
    while True:
        try:
            now = await counts(dsn, answered)
        except (OSError, asyncpg.PostgresError):
            now = (0, 0, 0)
        if now[1] >= len(answered) or time.monotonic() > deadline:
            return now
        steady = steady + 1 if now == last else 0
        if steady >= 60:  # 30 s without progress (the writer backs off up to 15 s)
            return now
        last = now
        await asyncio.sleep(0.5)  # polling the database of an external process


async def run_fault(fault: str, pg: PrivatePostgres, args: argparse.Namespace, n: int) -> dict[str, object]:
    from cti.config import default_config_path

    work = Path(tempfile.mkdtemp(prefix=f"cti-bench-{fault}-"))
    database = f"bench_{n}_{fault}"
    conn = await asyncpg.connect(pg.dsn("postgres"), timeout=10)
    await conn.execute(f"CREATE DATABASE {database}")
    await conn.close()
    operators_port = free_port(socket.SOCK_DGRAM)
    config = work / "helpdesk.toml"
    text = default_config_path().read_text(encoding="utf-8")
    config.write_text(re.sub(r'uri = "sip:(\d+)@127\.0\.0\.1:\d+"',
                             rf'uri = "sip:\1@127.0.0.1:{operators_port}"', text), encoding="utf-8")
    sip_port = free_port(socket.SOCK_DGRAM)
    env = {"CTI_CONFIG": str(config), "CTI_DATABASE_URL": pg.url(database),
           "CTI_DATABASE_JOURNAL": str(work / "var" / "journal.jsonl"),
           "CTI_PRIVACY_CALLER_HASH_SECRET": SECRET, "CTI_SIP_MODE": "direct",
           "CTI_SIP_LISTEN": f"{HOST}:{sip_port}", "CTI_SIP_RTP_PORTS": "40000-47999",
           "CTI_HOURS_OVERRIDE": "open", "CTI_LOG_FORMAT": "json"}
    cli(work, env, "db", "upgrade")
    token = cli(work, env, "token", "create", "bench", "--role", "supervisor").strip().splitlines()[-1]
    service = Service(work, env, free_port())
    service.start()
    for operator in re.findall(r'^id = "(op\d+)"', text, re.MULTILINE):
        await asyncio.to_thread(available, service.http_port, token, operator)
    uas = sipp(work, "operators", operators_scenario(free_port(socket.SOCK_DGRAM) & ~1), None,
               "-p", str(operators_port), "-aa")
    messages = work / "callers.msg"
    callers = sipp(work, "callers", caller_scenario(), sip_port, "-m", str(args.calls), "-r", str(args.rate),
                   "-l", str(args.calls), "-p", str(free_port(socket.SOCK_DGRAM)),
                   "-timeout", "150s", "-trace_msg", "-message_file", str(messages))
    flood: subprocess.Popen[bytes] | None = None
    started = time.monotonic()
    try:
        if fault == "flood":
            await asyncio.sleep(1.0)
            flood = sipp(work, "flood", FLOOD, sip_port, "-m", str(args.flood), "-r", "500",
                         "-p", str(free_port(socket.SOCK_DGRAM)), "-timeout", "60s")
        else:
            await asyncio.sleep(FAULT_AT_S)
            if fault == "kill":
                service.kill()
                await asyncio.to_thread(service.start)
            elif fault == "pg_restart":
                await asyncio.to_thread(pg.restart)
            elif fault == "pg_stop":
                await asyncio.to_thread(pg.stop)
                await asyncio.sleep(10)
                await asyncio.to_thread(pg.start)
        try:  # every call has had its chance by then (INVITE retransmissions last 64 s)
            await asyncio.to_thread(callers.wait, args.calls / args.rate + 90)
        except subprocess.TimeoutExpired:
            callers.send_signal(signal.SIGUSR1)  # SIPp: stop placing calls and quit
            try:
                await asyncio.to_thread(callers.wait, 30)
            except subprocess.TimeoutExpired:
                callers.kill()
        placed, answered = placed_and_answered(messages)
        tickets, terminal, duplicates = await settle(pg.dsn(database), answered)
    finally:
        for proc in (callers, uas, flood):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        service.stop()
    return {"fault": fault, "placed": len(placed), "answered": len(answered), "tickets": tickets,
            "terminal": terminal, "duplicates": duplicates,
            "refused": len(placed) - len(answered), "seconds": round(time.monotonic() - started),
            "work": str(work)}


async def main(args: argparse.Namespace) -> None:
    pg = PrivatePostgres.create()
    results = []
    try:
        for n, fault in enumerate(args.faults.split(",")):
            results.append(await run_fault(fault.strip(), pg, args, n))
            print(json.dumps(results[-1]), flush=True)
    finally:
        pg.destroy()
    print()
    print(f"{'fault':<11} {'placed':>6} {'answered':>8} {'tickets':>7} {'terminal':>8} "
          f"{'dupes':>5} {'refused':>7}  target: all equal, 0 dupes, 0 refused")
    for r in results:
        ok = (r["placed"] == r["answered"] == r["tickets"] == r["terminal"]
              and r["duplicates"] == 0 and r["refused"] == 0)
        print(f"{r['fault']:<11} {r['placed']:>6} {r['answered']:>8} {r['tickets']:>7} "
              f"{r['terminal']:>8} {r['duplicates']:>5} {r['refused']:>7}  "
              f"{'ok' if ok else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rate", type=float, default=15.0)
    parser.add_argument("--flood", type=int, default=2000)
    parser.add_argument("--faults", default="kill,pg_restart,pg_stop,flood")
    asyncio.run(main(parser.parse_args()))
