"""The HA pair as real processes, for tests/ha and bench/bench_failover.py.

Two `cti serve` nodes on loopback sharing one PostgreSQL database (each through its own TCP proxy,
which can black-hole the node's database traffic to simulate a network split), Kamailio with
the shipped ``config/kamailio/kamailio.cfg`` in front, SIPp callers with ``uac_stream.xml``.
Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "sip"))
sys.path.insert(0, str(ROOT / "tests"))
from peers import HOST, free_udp_port, need  # noqa: E402
from tests_support import free_port  # noqa: E402

CTI = [sys.executable, "-m", "cti"]
KAMAILIO_CFG = ROOT / "config" / "kamailio" / "kamailio.cfg"
SCENARIO = Path(__file__).parent / "scenarios" / "uac_stream.xml"
SECRET = "test-secret-0123456789abcdef0123456789"


def bounded_wait(what: str, condition: Callable[[], Any], timeout: float,
                 interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class TcpProxy:
    """Forwards a local TCP port to PostgreSQL; ``block()`` black-holes every connection, open
    and new (bytes are held, never forwarded: a network split, not a refused connection)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._open = threading.Event()
        self._open.set()
        self._closed = False
        self._sockets: list[socket.socket] = []
        self._server = socket.create_server((HOST, self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def block(self) -> None:
        self._open.clear()

    def unblock(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self._open.set()
        for sock in [self._server, *self._sockets]:
            try:
                sock.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                return
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while not self._closed:
            try:
                data = src.recv(65536)
                if not data:
                    break
                self._open.wait()  # blocked: hold the bytes (the black hole)
                if self._closed:
                    break
                dst.sendall(data)
            except OSError:
                break
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Node:
    """One `cti serve` of the pair."""

    def __init__(self, name: str, work: Path, database_url: str, *, lease_s: float,
                 renew_s: float, rtp_ports: str) -> None:
        self.name = name
        self.work = work
        self.sip_port = free_udp_port()
        self.http_port = free_port()
        self.log = work / f"node-{name}.log"
        self.env = {
            **os.environ, "CTI_CONFIG": str(ROOT / "config" / "helpdesk.toml"),
            "CTI_DATABASE_URL": database_url,
            "CTI_DATABASE_JOURNAL": str(work / f"var-{name}" / "journal.jsonl"),
            "CTI_PRIVACY_CALLER_HASH_SECRET": SECRET, "CTI_SIP_MODE": "direct",
            "CTI_SIP_LISTEN": f"{HOST}:{self.sip_port}", "CTI_SIP_RTP_PORTS": rtp_ports,
            "CTI_HOURS_OVERRIDE": "open", "CTI_HA_LEASE_SECONDS": str(lease_s),
            "CTI_HA_RENEW_SECONDS": str(renew_s), "CTI_LOG_FORMAT": "json",
            "CTI_HTTP_TRUSTED_PROXIES": HOST,  # the other node forwards consoles (loopback)
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*CTI, "serve", "--node-id", self.name, "--http", f"{HOST}:{self.http_port}"],
                cwd=self.work, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> None:
        stop_process(self.proc, 20)

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.http_port}/healthz",
                                        timeout=3) as response:
                return dict(json.load(response))
        except urllib.error.HTTPError as exc:  # 503: degraded, still a body
            return dict(json.load(exc))
        except (OSError, ValueError):
            return None

    def role(self) -> str | None:
        health = self.health()
        return None if health is None else str(health["node"]["role"])

    def wait_role(self, role: str, timeout: float) -> float:
        started = time.monotonic()
        bounded_wait(f"node {self.name} {role}", lambda: self.role() == role, timeout)
        return time.monotonic() - started

    def options_status(self) -> int | None:
        """Status of an OPTIONS sent straight to the node (what Kamailio's probe sees)."""
        return options_status(self.sip_port)


def options_status(port: int, timeout: float = 1.0) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        sock.settimeout(timeout)
        local = sock.getsockname()[1]
        branch = f"z9hG4bK-ha-{time.monotonic_ns()}"
        request = (f"OPTIONS sip:{HOST}:{port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP {HOST}:{local};branch={branch}\r\n"
                   f"From: <sip:probe@{HOST}>;tag=ha{local}\r\nTo: <sip:{HOST}:{port}>\r\n"
                   f"Call-ID: {branch}@{HOST}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                   "Content-Length: 0\r\n\r\n")
        sock.sendto(request.encode(), (HOST, port))
        try:
            data = sock.recv(65536)
        except OSError:
            return None
    match = re.match(rb"SIP/2\.0 (\d{3})", data)
    return int(match.group(1)) if match else None


class KamailioFront:
    """Kamailio with the shipped configuration, dispatching to the pair."""

    def __init__(self, work: Path, nodes: list[Node], *, fr_timer_ms: int = 1500) -> None:
        self.port = free_udp_port()
        self.list = work / "cti-nodes.list"
        self.list.write_text("".join(f"1 sip:{HOST}:{n.sip_port} 0 0\n" for n in nodes))
        self.log = work / "kamailio.log"
        self.work = work
        self.fr_timer_ms = fr_timer_ms
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [need("kamailio"), "-f", str(KAMAILIO_CFG), "-DD", "-E", "-n", "2", "-m", "32",
                 "-M", "8", "-Y", str(self.work), "-A", f"LISTEN=udp:{HOST}:{self.port}",
                 "-A", f'DISPATCHER_LIST="{self.list}"', "-A", f"FR_TIMER_MS={self.fr_timer_ms}"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        bounded_wait("kamailio listening", lambda: options_status(self.port, 0.2) == 200, 10)

    def node_changes(self, node: Node) -> list[str]:
        """"up"/"down" for ``node``, in the order Kamailio's probes saw them (its log)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return re.findall(rf"cti-ha: node (up|down) sip:{HOST}:{node.sip_port}\b", text)

    def wait_routes_to(self, node: Node, after: int, timeout: float) -> None:
        """Until Kamailio's probes have seen ``node`` up (beyond the first ``after`` changes)."""
        bounded_wait(f"kamailio routes to {node.name}",
                     lambda: "up" in self.node_changes(node)[after:], timeout)

    def stop(self) -> None:
        stop_process(self.proc, 10)


class KamailioRegistrar(KamailioFront):
    """Registered mode: Kamailio as the registrar the nodes register with as the helpdesk
    extension (tests/sip/kamailio's template); a call forks to every registered node, the
    standby answers 503 and the active node's 200 wins."""

    PASSWORD = "helpdesk-ha-secret"

    def __init__(self, work: Path, nodes: list[Node]) -> None:
        self.port = free_udp_port()
        self.work = work
        self.log = work / "kamailio.log"
        self.proc = None
        self.cfg = work / "kamailio-registrar.cfg"
        text = (ROOT / "tests" / "sip" / "kamailio" / "kamailio.cfg.template").read_text()
        for key, value in {"port": self.port, "password": self.PASSWORD, "qop_flag": 1}.items():
            text = text.replace("{{" + key + "}}", str(value))
        self.cfg.write_text(text)
        for node in nodes:
            node.env.update({"CTI_SIP_MODE": "registered", "CTI_SIP_REGISTRAR": f"{HOST}:{self.port}",
                             "CTI_SIP_USERNAME": "helpdesk", "CTI_SIP_PASSWORD": self.PASSWORD})

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [need("kamailio"), "-f", str(self.cfg), "-DD", "-E", "-n", "2", "-m", "32",
                 "-M", "8", "-Y", str(self.work)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        bounded_wait("kamailio listening", lambda: options_status(self.port, 0.2) == 200, 10)

    def registered(self) -> int:
        return self.log.read_text(errors="replace").count("REGISTERED sip:helpdesk@")


class Callers:
    """A SIPp stream through Kamailio (``rate`` calls/s, ``count`` calls)."""

    def __init__(self, work: Path, kamailio_port: int, *, rate: float, count: int,
                 stay_ms: int, digit: str = "") -> None:
        self.dir = work / f"sipp-{time.monotonic_ns()}"
        self.dir.mkdir()
        scenario = self.dir / "uac_stream.xml"
        digit_part = "" if not digit else (
            ROOT / "tests" / "sip" / "scenarios" / "uac_info_digit.part").read_text().replace(
            "{{before_ms}}", "300").replace("{{digit}}", digit)
        scenario.write_text(SCENARIO.read_text().replace("{{stay_ms}}", str(stay_ms))
                            .replace("{{digit_part}}", digit_part))
        self.proc = subprocess.Popen(
            [need("sipp"), "-sf", str(scenario), "-m", str(count), "-r", str(rate), "-l", "40",
             "-nostdin", "-i", HOST, "-p", str(free_udp_port()), "-mi", HOST,
             "-mp", str(free_udp_port(even=True)), "-s", "helpdesk", "-trace_logs", "-trace_err",
             "-recv_timeout", "8000", "-timeout", "120s", f"{HOST}:{kamailio_port}"],
            cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _log(self, word: str) -> list[str]:
        found = []
        for path in self.dir.glob("*_logs.log"):
            for line in path.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == word:
                    found.append(parts[1])
        return found

    def placed(self) -> list[str]:
        return self._log("placed")

    def answered(self) -> list[str]:
        return self._log("answered")

    def refused(self) -> list[str]:
        """Calls refused before answer (503 from Kamailio or a node)."""
        return self._log("refused")

    def finish(self) -> None:
        """Stop placing calls; the calls in progress end as the scenario says (SIPp's soft
        exit, SIGUSR1, like pressing q)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)

    def wait(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def read_log_events(node: Node, event: str) -> list[dict[str, Any]]:
    found = []
    for line in node.log.read_text(errors="replace").splitlines():
        if f'"{event}"' in line:
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def wait_started(node: Node, count: int = 1, timeout: float = 60) -> None:
    bounded_wait(f"node {node.name} started",
                 lambda: len(read_log_events(node, "service.started")) >= count, timeout)


def call_records(database_url: str) -> list[dict[str, Any]]:
    """Every call in the database: its ids, outcome, end, number of tickets, ends and the node
    that took it."""
    import asyncio

    import asyncpg

    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")

    async def query() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            rows = await conn.fetch(
                "SELECT c.id, c.sip_call_id, c.outcome, c.ended_at, "
                "(SELECT count(*) FROM tickets t WHERE t.call_id = c.id) AS tickets, "
                "(SELECT count(*) FROM call_events e WHERE e.call_id = c.id "
                " AND e.kind = 'ended') AS ends, "
                "(SELECT count(*) FROM call_events e WHERE e.call_id = c.id "
                " AND e.kind = 'offered') AS offers, "
                "(SELECT e.data FROM call_events e WHERE e.call_id = c.id "
                " AND e.kind = 'offered' ORDER BY e.seq LIMIT 1) AS offered, "
                "(SELECT e.at FROM call_events e WHERE e.call_id = c.id "
                " AND e.kind = 'offered' ORDER BY e.seq LIMIT 1) AS offered_at FROM calls c")
        finally:
            await conn.close()
        out = []
        for row in rows:
            offered = json.loads(row["offered"]) if isinstance(row["offered"], str) \
                else (row["offered"] or {})
            out.append({"id": row["id"], "sip_call_id": row["sip_call_id"],
                        "outcome": row["outcome"], "ended": row["ended_at"] is not None,
                        "tickets": row["tickets"], "ends": row["ends"], "offers": row["offers"],
                        "node": offered.get("node"), "offered_at": row["offered_at"]})
        return out

    return asyncio.run(query())


def operator_token(node: Node, operator_id: str) -> str:
    """A bearer token for an operator, made with `cti token create` (database access only)."""
    made = subprocess.run([*CTI, "token", "create", f"ha-{operator_id}", "--role", "operator",
                           "--operator", operator_id, "--expires", "1d"], env=node.env,
                          cwd=node.work, capture_output=True, text=True, timeout=60, check=True)
    return made.stdout.strip().splitlines()[-1]


def api(node: Node, method: str, path: str, token: str,
        body: dict[str, Any] | None = None) -> tuple[int, str, dict[str, Any]]:
    """(status, the node that answered (X-CTI-Node), JSON body) of a console API call."""
    request = urllib.request.Request(
        f"http://{HOST}:{node.http_port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["X-CTI-Node"], json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("X-CTI-Node", ""), json.load(exc)


class ConsoleSocket:
    """An operator console's event websocket, in a thread: connects to one node, and when the
    socket closes reconnects to the same node (as the console's page does), recording each
    message with the number of the connection it came on."""

    def __init__(self, node: Node, token: str) -> None:
        self.url = f"ws://{HOST}:{node.http_port}/api/events"
        self.token = token
        self.messages: list[tuple[int, dict[str, Any]]] = []
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import asyncio

        asyncio.run(self._loop())

    async def _loop(self) -> None:
        import asyncio

        import aiohttp

        async with aiohttp.ClientSession() as session:
            while not self._stop.is_set():
                try:
                    async with session.ws_connect(
                            self.url, headers={"Authorization": f"Bearer {self.token}"},
                            timeout=aiohttp.ClientWSTimeout(ws_close=2.0)) as ws:
                        self.connections += 1
                        number = self.connections
                        while not self._stop.is_set():
                            try:
                                message = await ws.receive(timeout=0.2)
                            except TimeoutError:
                                continue
                            if message.type is not aiohttp.WSMsgType.TEXT:
                                break
                            self.messages.append((number, json.loads(message.data)))
                except (aiohttp.ClientError, OSError, TimeoutError):
                    pass
                if not self._stop.is_set():
                    await asyncio.sleep(0.3)  # the console's reconnect back-off

    def pops(self) -> list[tuple[int, dict[str, Any]]]:
        return [(n, m) for n, m in self.messages if m.get("type") == "screen_pop"]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
