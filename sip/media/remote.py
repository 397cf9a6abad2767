"""Media in worker processes (``[sip] media_workers = N``, default 1): the second core.

Why: on a plateau of held callers 60-65 % of the service was the media clock and RTP receive
(50 packets/s per leg each way, one system call each), all on the one core that also runs
signalling, routing and tickets. A worker (``worker.py``) owns the sockets and the clock of its
calls; the call path keeps its one event loop and its one-task call centre, and talks to the
worker over a pipe (``wire.py``): commands out, digits / playback ends / reports back, batched
per loop turn. A leg and the operator leg bridged to it live in the same worker (``near``), so
audio never crosses the pipe; only encoded prompts do, once per prompt and worker.

``RemoteSession`` mirrors what the call path reads (codec, peer, direction, ...) and sends what
it changes. A worker that dies is started again at once; the calls it carried are handed to
``set_lost``'s callback (the front door ends them: their audio is gone) and ``health`` says
``error`` until the new worker is up.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import sys
import time
import zlib
from collections.abc import Callable
from typing import Any, Final

import structlog

from cti.sip.audio import Player
from cti.sip.media.leg import MediaLeg
from cti.sip.media.wire import Message, Outbox, read_batch
from cti.sip.sdp import Codec

log = structlog.get_logger("cti.sip.media")

AUDIO_KEYS_MAX: Final = 512  # distinct prompts a worker keeps; past it both ends start over
RESTART_DELAY_S: Final = (0.0, 0.5, 1.0, 2.0, 5.0)  # before restarts of a worker that keeps dying
READY_S: Final = 20.0  # a worker not ready this long after its start is killed and tried again
YOUNG_S: Final = 10.0  # a worker that dies sooner than this after its start died young
SILENT_S: Final = 10.0  # a worker whose report (every second) is this late is hung: killed


class RemoteSession:
    """A leg whose sockets live in a media worker."""

    def __init__(self, worker: _Worker, sid: int, local_port: int, codec: Codec,
                 event_pt: int | None, remote: tuple[str, int],
                 on_digit: Callable[[str], None]) -> None:
        self._worker, self.sid, self._local_port = worker, sid, local_port
        self._codec, self._event_pt, self._remote = codec, event_pt, remote
        self._direction, self._send_enabled = "sendrecv", True
        self._player: Player | None = None
        self._peer: RemoteSession | None = None
        self.on_digit = on_digit
        self.on_finished: tuple[int, Callable[[str], None]] | None = None  # (token, callback)
        self._token = 0
        self._last_rx: float | None = None
        self.ssrc = 0  # the SSRC of the RTP we send (set when the worker has bound the leg)
        self.packets_in = 0  # as of the worker's last report (every second, or ``refresh``)
        self.packets_out = 0
        self.closed = False

    # what the call path reads
    @property
    def local_port(self) -> int:
        return self._local_port

    @property
    def peer(self) -> MediaLeg | None:
        return self._peer

    @property
    def last_rx(self) -> float | None:
        return self._last_rx

    @property
    def live(self) -> bool:
        """Still a leg of its worker (False once closed, or once that worker died: then
        nothing is sent for it, and a restarted worker never hears of it)."""
        return self._worker.sessions.get(self.sid) is self

    # what it changes: mirrored here, sent to the worker
    def _set(self, name: str, value: object) -> None:
        if self.live:
            self._worker.send(("set", self.sid, {name: value}))

    @property
    def codec(self) -> Codec:
        return self._codec

    @codec.setter
    def codec(self, value: Codec) -> None:
        if value != self._codec:
            self._codec = value
            self._set("codec", int(value))

    @property
    def event_pt(self) -> int | None:
        return self._event_pt

    @event_pt.setter
    def event_pt(self, value: int | None) -> None:
        if value != self._event_pt:
            self._event_pt = value
            self._set("event_pt", value)

    @property
    def remote(self) -> tuple[str, int]:
        return self._remote

    @remote.setter
    def remote(self, value: tuple[str, int]) -> None:
        if value != self._remote:
            self._remote = value
            self._set("remote", value)

    @property
    def remote_direction(self) -> str:
        return self._direction

    @remote_direction.setter
    def remote_direction(self, value: str) -> None:
        self._direction = value  # the worker needs only send_enabled

    @property
    def send_enabled(self) -> bool:
        return self._send_enabled

    @send_enabled.setter
    def send_enabled(self, value: bool) -> None:
        if value != self._send_enabled:
            self._send_enabled = value
            self._set("send_enabled", value)

    @property
    def player(self) -> Player | None:
        return self._player

    @player.setter
    def player(self, player: Player | None) -> None:
        self._player = player
        self._token += 1
        if not self.live:
            self.on_finished = None
            return
        if player is None:
            self.on_finished = None
            self._worker.send(("stop", self.sid))
            return
        callback = player.on_finished
        self.on_finished = None if callback is None else (self._token, callback)
        self._worker.play(self, self._token, player)

    def bridge_to(self, other: MediaLeg) -> None:
        assert isinstance(other, RemoteSession) and other._worker is self._worker, \
            "both legs of a bridge live in one worker (open the second one near the first)"
        self._player = other._player = None
        self.on_finished = other.on_finished = None
        self._peer, other._peer = other, self
        if self.live and other.live:
            self._worker.send(("bridge", self.sid, other.sid))

    def unbridge_from(self, other: MediaLeg) -> None:
        assert isinstance(other, RemoteSession)
        if self._peer is other:
            self._peer = other._peer = None
        if self.live and other.live:
            self._worker.send(("unbridge", self.sid, other.sid))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._peer is not None:
            self._peer._peer = None
            self._peer = None
        self._worker.forget(self)


class _Worker:
    """One worker process and our end of its pipe."""

    def __init__(self, index: int, count: int, log_format: str, nice: int) -> None:
        self.index, self.count, self.log_format, self.nice = index, count, log_format, nice
        self.proc: asyncio.subprocess.Process | None = None
        self.out: Outbox | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.sessions: dict[int, RemoteSession] = {}
        self.clocked: set[RemoteSession] = set()
        self.opening: dict[int, asyncio.Future[tuple[int, int, str | None]]] = {}
        self.asked: dict[int, asyncio.Future[None]] = {}
        self.audio_keys: set[Any] = set()
        self.up = False
        self.frames_sent = 0
        self.late_ticks = 0
        self.spawned_at = 0.0
        self.heard_at = 0.0  # time.monotonic() of its last message

    async def spawn(self, on_exit: Callable[[_Worker], None]) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cti.sip.media.worker", "--fd", str(theirs.fileno()),
                "--shard", f"{self.index}/{self.count}", "--log-format", self.log_format,
                "--nice", str(self.nice),
                pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        try:  # up only once it can serve: its first message says so
            first = await asyncio.wait_for(read_batch(reader), READY_S)
        except TimeoutError:
            first = None
        if not first or first[0][0] != "ready":
            if self.proc.returncode is None:
                self.proc.kill()
            await self.proc.wait()
            writer.close()
            raise OSError(f"media worker {self.index} did not start "
                          f"(exit code {self.proc.returncode})")
        self.out = Outbox(writer)
        self.audio_keys.clear()
        self.up = True
        self.spawned_at = asyncio.get_running_loop().time()
        self.heard_at = time.monotonic()
        self.reader_task = asyncio.ensure_future(self._read(reader, on_exit))
        log.info("sip.media.worker_up", worker=self.index, pid=self.proc.pid)

    def send(self, message: Message) -> None:
        if self.out is not None:
            self.out.put(message)

    def play(self, session: RemoteSession, token: int, player: Player) -> None:
        key = (player.name, zlib.crc32(player.audio), len(player.audio))
        audio: bytes | None = player.audio
        if key in self.audio_keys:
            audio = None
        else:
            if len(self.audio_keys) >= AUDIO_KEYS_MAX:
                self.send(("forget_audio",))
                self.audio_keys.clear()
            self.audio_keys.add(key)
        self.send(("play", session.sid, token, key, audio, player.name, player.loop))

    def forget(self, session: RemoteSession) -> None:
        if self.sessions.pop(session.sid, None) is not None:
            self.clocked.discard(session)
            self.send(("close", session.sid))

    async def _read(self, reader: asyncio.StreamReader, on_exit: Callable[[_Worker], None]) -> None:
        try:
            while (batch := await read_batch(reader)) is not None:
                self.heard_at = time.monotonic()
                for message in batch:
                    try:
                        self._event(message)
                    except Exception:  # a callback's failure is the call path's, logged there
                        log.exception("sip.media.event_failed", event=str(message[0])[:40])
        finally:
            self.up = False
            on_exit(self)

    def _event(self, message: Message) -> None:
        kind = message[0]
        if kind == "opened":
            future = self.opening.pop(message[1], None)
            if future is not None and not future.done():
                future.set_result((message[2], message[3], message[4]))
        elif kind == "digit":
            session = self.sessions.get(message[1])
            if session is not None:
                session.on_digit(message[2])
        elif kind == "finished":
            session = self.sessions.get(message[1])
            if session is not None and session.on_finished is not None and \
                    session.on_finished[0] == message[2]:
                callback = session.on_finished[1]
                session.on_finished = None
                callback(message[3])
        elif kind == "report":
            now = time.monotonic()
            for sid, (age, packets_in, packets_out) in message[2].items():
                session = self.sessions.get(sid)
                if session is not None:
                    if age is not None:
                        session._last_rx = now - age
                    session.packets_in, session.packets_out = packets_in, packets_out
            self.frames_sent, self.late_ticks = message[3], message[4]
            asked = self.asked.pop(message[1], None)
            if asked is not None and not asked.done():
                asked.set_result(None)


class WorkerMedia:
    """``count`` media workers; a new leg goes to the one with the fewest legs."""

    def __init__(self, count: int, log_format: str = "auto", nice: int = 0) -> None:
        self.workers = [_Worker(i, count, log_format, nice) for i in range(count)]
        self._ids = itertools.count(1)
        self._lost: Callable[[list[MediaLeg]], None] = lambda legs: None
        self._stopping = False
        self._restarts: set[asyncio.Task[None]] = set()
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def sessions(self) -> set[MediaLeg]:
        return set().union(*(w.clocked for w in self.workers))

    @property
    def frames_sent(self) -> int:
        return sum(w.frames_sent for w in self.workers)

    @property
    def late_ticks(self) -> int:
        return sum(w.late_ticks for w in self.workers)

    def set_lost(self, callback: Callable[[list[MediaLeg]], None]) -> None:
        self._lost = callback

    async def start(self) -> None:
        """All workers up and ready (OSError, with the workers stopped, if one cannot start)."""
        self._stopping = False
        try:
            await asyncio.gather(*(w.spawn(self._exited) for w in self.workers))
        except OSError:
            await self.stop()
            raise
        self._watchdog = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        """A worker that stops reporting is hung (its audio with it): kill it, so that its
        calls end and a new one starts, instead of health saying ok over silence."""
        while not self._stopping:
            await asyncio.sleep(1.0)
            for worker in self.workers:
                silent = time.monotonic() - worker.heard_at
                if worker.up and silent > SILENT_S and worker.proc is not None \
                        and worker.proc.returncode is None:
                    log.error("sip.media.worker_hung", worker=worker.index, silent_s=silent)
                    worker.proc.kill()

    async def stop(self) -> None:
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        for task in list(self._restarts):
            task.cancel()
        for worker in self.workers:
            if worker.out is not None:
                worker.out.close()  # EOF: the worker closes its sockets and exits
            if worker.proc is not None:
                try:
                    await asyncio.wait_for(worker.proc.wait(), 5.0)
                except TimeoutError:
                    log.error("sip.media.worker_stuck", worker=worker.index)
                    worker.proc.kill()
                    await worker.proc.wait()
            if worker.reader_task is not None:
                await asyncio.gather(worker.reader_task, return_exceptions=True)

    def health(self) -> str:
        down = [w.index for w in self.workers if not w.up]
        return "ok" if not down else f"error: media worker {down[0]} down"

    async def open(self, host: str, ports: range | None, codec: Codec, event_pt: int | None,
                   remote: tuple[str, int], on_digit: Callable[[str], None], *,
                   rtcp_interval_s: float, near: MediaLeg | None = None) -> MediaLeg:
        if isinstance(near, RemoteSession):
            worker = near._worker
        else:
            worker = min(self.workers, key=lambda w: (not w.up, len(w.sessions)))
        if not worker.up:
            raise OSError(f"media worker {worker.index} is down")
        req = sid = next(self._ids)
        future: asyncio.Future[tuple[int, int, str | None]] = \
            asyncio.get_running_loop().create_future()
        worker.opening[req] = future
        worker.send(("open", req, sid, host,
                     None if ports is None else (ports.start, ports.stop), int(codec), event_pt,
                     remote, rtcp_interval_s))
        port, ssrc, error = await future
        if error is not None:
            raise OSError(error)
        session = RemoteSession(worker, sid, port, codec, event_pt, remote, on_digit)
        session.ssrc = ssrc
        worker.sessions[sid] = session
        return session

    async def refresh(self) -> None:
        """Counters and last-packet times as of now: every worker reports after the commands
        sent before this call (the workers report by themselves every second)."""
        loop = asyncio.get_running_loop()
        waits = []
        for worker in self.workers:
            if worker.up:
                req = next(self._ids)
                worker.asked[req] = loop.create_future()
                waits.append(worker.asked[req])
                worker.send(("report", req))
        await asyncio.gather(*waits)

    def add(self, leg: MediaLeg) -> None:
        assert isinstance(leg, RemoteSession)
        if leg.sid in leg._worker.sessions and leg not in leg._worker.clocked:
            leg._worker.clocked.add(leg)
            leg._worker.send(("clock", leg.sid, True))

    def remove(self, leg: MediaLeg) -> None:
        assert isinstance(leg, RemoteSession)
        if leg in leg._worker.clocked:
            leg._worker.clocked.discard(leg)
            leg._worker.send(("clock", leg.sid, False))

    def _exited(self, worker: _Worker) -> None:
        for future in worker.opening.values():
            if not future.done():
                future.set_result((0, 0, f"media worker {worker.index} died"))
        worker.opening.clear()
        for asked in worker.asked.values():
            if not asked.done():
                asked.set_result(None)
        worker.asked.clear()
        lost: list[MediaLeg] = list(worker.sessions.values())
        worker.sessions.clear()
        worker.clocked.clear()
        if worker.out is not None:  # nothing more to it; its socket closes (no fd left over)
            worker.out.closed = True
            worker.out.writer.close()
        if self._stopping:
            return
        code = worker.proc.returncode if worker.proc is not None else None
        log.error("sip.media.worker_died", worker=worker.index, exit_code=code, legs=len(lost))
        self._lost(lost)
        task = asyncio.ensure_future(self._restart(worker))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _restart(self, worker: _Worker) -> None:
        """Start the worker again: at once, unless it died young (then with growing delays,
        as long as it keeps dying young or failing to start)."""
        if worker.proc is not None:
            await worker.proc.wait()
        loop = asyncio.get_running_loop()
        attempt = 1 if loop.time() - worker.spawned_at < YOUNG_S else 0
        while not self._stopping:
            await asyncio.sleep(RESTART_DELAY_S[min(attempt, len(RESTART_DELAY_S) - 1)])
            try:
                await worker.spawn(self._exited)
                return
            except OSError as exc:
                log.error("sip.media.worker_start_failed", worker=worker.index, error=str(exc))
                attempt += 1
