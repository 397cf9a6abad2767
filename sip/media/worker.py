"""A media worker: a child process that owns RTP/RTCP sockets and the media clock of its calls.

Started by ``remote.WorkerMedia`` as ``python -m cti.sip.media.worker --fd N --shard I/N`` on
an inherited socketpair; it runs the same ``RtpSession`` / ``MediaClock`` code as in-process
media (``rtp.py``), on its own event loop (uvloop where installed) and its own core. The call
path commands it (``wire.py``); it answers with the bound port, digits, playback ends and a
report every ``REPORT_S`` (each session's seconds since its last packet, frames sent, late
ticks). It exits when the service's end of the pipe closes, so it never outlives the service.

Its first message is ``("ready", pid)``. Commands, as handled here:

- ``("open", req, sid, host, ports, codec, event_pt, remote, rtcp_interval_s)``: bind a
  session (``ports``: (start, stop) or None) on this worker's share of the range; answers
  ``("opened", req, port, ssrc, error)`` at once (the sockets are attached afterwards).
- ``("set", sid, {field: value})``: remote, codec, event_pt, send_enabled.
- ``("play", sid, token, key, audio | None, name, loop)``: play ``audio`` (kept under ``key``;
  None: the audio sent before under that key); its end is ``("finished", sid, token, name)``.
- ``("stop", sid)``, ``("bridge", a, b)``, ``("unbridge", a, b)``, ``("clock", sid, on)``,
  ``("close", sid)``, ``("forget_audio",)``.
- ``("report", req)``: a report now (after every command sent before it), answered as
  ``("report", req, legs, frames_sent, late_ticks)``; unasked reports carry ``req`` 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import time
from typing import Any, Final

import structlog

from cti.sip.audio import Player
from cti.sip.media.rtp import (
    MediaClock,
    RtpSession,
    attach,
    bind_session,
    bridge,
    core_name,
    unbridge,
)
from cti.sip.media.wire import Message, Outbox, read_batch
from cti.sip.sdp import Codec

log = structlog.get_logger("cti.sip.media")

REPORT_S: Final = 1.0
SETTABLE: Final = frozenset({"remote", "codec", "event_pt", "send_enabled"})


class Worker:
    """The sessions of one worker, driven by the commands of one pipe."""

    def __init__(self, out: Outbox, shard: tuple[int, int]) -> None:
        self.out = out
        self.shard = shard
        self.clock = MediaClock()
        self.sessions: dict[int, RtpSession] = {}
        self.audio: dict[Any, bytes] = {}
        self.attaching: set[asyncio.Task[None]] = set()

    def handle(self, message: Message) -> None:
        kind = message[0]
        if kind == "open":
            self._open(*message[1:])
            return
        if kind == "forget_audio":
            self.audio.clear()
            return
        if kind == "report":
            self.report(message[1])
            return
        if kind == "play" and message[4] is not None:
            self.audio[message[3]] = message[4]  # kept even if the leg has gone meanwhile
        session = self.sessions.get(message[1])
        if session is None:  # closed already (a command that crossed the close): nothing to do
            return
        if kind == "set":
            for name, value in message[2].items():
                if name in SETTABLE:
                    setattr(session, name, Codec(value) if name == "codec" else value)
        elif kind == "play":
            self._play(session, *message[1:])
        elif kind == "stop":
            session.player = None
        elif kind in ("bridge", "unbridge"):
            other = self.sessions.get(message[2])
            if other is not None:
                (bridge if kind == "bridge" else unbridge)(session, other)
        elif kind == "clock":
            (self.clock.add if message[2] else self.clock.remove)(session)
        elif kind == "close":
            del self.sessions[message[1]]
            self.clock.remove(session)
            session.close()
        else:
            log.error("sip.media.unknown_command", command=str(kind)[:40])

    def _open(self, req: int, sid: int, host: str, ports: tuple[int, int] | None,
              codec: int, event_pt: int | None, remote: tuple[str, int],
              rtcp_interval_s: float) -> None:
        """Bind at once and answer; the sockets are attached in a task of their own (a busy
        loop would otherwise hold every INVITE of a batch for a few turns each)."""
        out = self.out
        try:
            session, sockets = bind_session(
                host, None if ports is None else range(*ports), Codec(codec), event_pt, remote,
                lambda digit: out.put(("digit", sid, digit)),
                rtcp_interval_s=rtcp_interval_s, shard=self.shard)
        except OSError as exc:
            out.put(("opened", req, 0, 0, str(exc)))
            return
        self.sessions[sid] = session
        out.put(("opened", req, session.local_port, session.ssrc, None))
        task = asyncio.ensure_future(attach(session, sockets, self.clock))
        self.attaching.add(task)
        task.add_done_callback(self._attached)

    def _attached(self, task: asyncio.Task[None]) -> None:
        self.attaching.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sip.media.attach_failed", error=str(task.exception()))

    def _play(self, session: RtpSession, sid: int, token: int, key: Any, _sent: bytes | None,
              name: str, loop: bool) -> None:
        audio = self.audio.get(key)
        if audio is None:  # never happens while both ends keep the same keys
            log.error("sip.media.audio_missing", name=name)
            self.out.put(("finished", sid, token, name))
            return
        out = self.out
        session.player = Player(audio, name, loop=loop,
                                on_finished=lambda n: out.put(("finished", sid, token, n)))

    def report(self, req: int = 0) -> None:
        """Per session: seconds since its last packet (None: none yet), packets in and out;
        then the clock's frames sent and late ticks. ``req``: the service asked for it."""
        now = time.monotonic()  # the clock of last_rx
        legs = {sid: (None if s.last_rx is None else now - s.last_rx, s.packets_in, s.packets_out)
                for sid, s in self.sessions.items()}
        self.out.put(("report", req, legs, self.clock.frames_sent, self.clock.late_ticks))

    def close_all(self) -> None:
        for session in self.sessions.values():
            self.clock.remove(session)
            session.close()
        self.sessions.clear()
        self.clock.close()


async def serve(fd: int, shard: tuple[int, int]) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    out = Outbox(writer)
    worker = Worker(out, shard)

    async def report() -> None:
        while True:
            await asyncio.sleep(REPORT_S)
            worker.report()

    reporting = asyncio.ensure_future(report())
    from cti.runtime import settle_gc

    settle_gc()
    out.put(("ready", os.getpid()))  # the service counts us up from here
    log.info("sip.media.worker_started", shard=f"{shard[0]}/{shard[1]}", core=core_name())
    try:
        while (batch := await read_batch(reader)) is not None:
            for message in batch:
                try:
                    worker.handle(message)
                except Exception:  # one bad command must not stop every call's audio
                    log.exception("sip.media.command_failed", command=str(message[0])[:40])
    finally:
        reporting.cancel()
        worker.close_all()
        out.close()
        log.info("sip.media.worker_stopped", shard=f"{shard[0]}/{shard[1]}")


def prioritise(nice: int) -> None:
    """Audio is due every 20 ms: run before the rest of the service when the machine is busy
    (Asterisk's and FreeSWITCH's media threads do the same with real-time priority; a nice
    value cannot starve the machine the way a spinning real-time process can)."""
    if nice == 0:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) + nice)
    except PermissionError:
        log.warning("sip.media.priority_refused", nice=nice,
                    hint="grant CAP_SYS_NICE (systemd: AmbientCapabilities=CAP_SYS_NICE) "
                         "or set [sip] media_nice = 0")
        return
    log.info("sip.media.priority", nice=os.getpriority(os.PRIO_PROCESS, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description="cti media worker (started by the service)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--shard", default="0/1")
    parser.add_argument("--log-format", default="auto", choices=("auto", "json", "console"))
    parser.add_argument("--nice", type=int, default=0, help="change of scheduling priority")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the service; it closes us
    from cti.logging import configure_logging
    from cti.runtime import run

    configure_logging(args.log_format)
    index, count = (int(x) for x in args.shard.split("/"))
    structlog.contextvars.bind_contextvars(process=f"media-{index}")  # on its every log line
    prioritise(args.nice)
    run(serve(args.fd, (index, count)))


if __name__ == "__main__":
    main()
