"""Linphone (Debian ``linphone-cli``: ``linphonec``) as a real peer for tests.

``linphonec`` needs three things a CI box lacks, all given to it in a private ``HOME``:
- a writable ``~/.local/share/linphone``: without it the core stops at "Unable to open linphone
  database" and never opens its SIP port (what an earlier attempt ran into);
- audio without a sound card: ``soundcard use files`` (``linphone_core_set_use_files``) makes
  the call's audio graph read a WAV (``play FILE``) and run on the wall clock. An ALSA ``null``
  device is not enough: the card's clock never advances, so mediastreamer's ticker stalls and
  not one RTP packet leaves (measured: ``RTP : [d=0.00,u=0.00]``). ``~/.asoundrc`` still gives
  ALSA a ``default`` so the ringer and the card probe do not fail;
- a linphonerc with a fixed UDP port, TCP/TLS off and a fixed RTP range, and
  ``ipv6_migration_done=1``: without it linphonec's one-time migration turns IPv6 on, and on a
  host with an IPv6 default route it offers ``c=IN IP6`` media from that address even when it
  calls 127.0.0.1.

What the phone hears is written by linphonec to a WAV (``record FILE``), so tests check the
audio that reached Linphone, not only what left us.

It is driven through its stdin (the same commands a person types) and observed through its
stdout ("Call 1 with <sip:...> connected.").
"""

from __future__ import annotations

import asyncio
import audioop
import os
import re
import wave
from pathlib import Path

from peers import HOST, _PeerProcess, free_udp_port, need, wait_udp_bound
from rtp_peer import has_tone

from cti.sip.audio import sine

ASOUNDRC = "pcm.!default {\n  type null\n}\n"


class Linphone(_PeerProcess):
    """One ``linphonec`` on loopback: an operator phone (``auto_answer``) or a caller."""

    def __init__(self, work: Path, *, name: str = "linphone", user: str = "201",
                 auto_answer: bool = True, tone_hz: float | None = None,
                 ipv6: bool = False) -> None:
        self.home = work / name
        (self.home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        (self.home / ".asoundrc").write_text(ASOUNDRC)
        self.host = "::1" if ipv6 else HOST
        self.user = user
        self.port = free_udp_port()
        rtp = free_udp_port(even=True)
        self.rc = self.home / "linphonerc"
        self.rc.write_text(
            "[sip]\n"
            f"sip_port={self.port}\nsip_tcp_port=0\nsip_tls_port=0\n"
            f"use_ipv6={1 if ipv6 else 0}\nipv6_migration_done=1\ndefault_proxy=-1\n"
            f"contact=\"{name}\" <sip:{user}@{HOST}>\n"
            f"[rtp]\naudio_rtp_port={rtp}-{rtp + 20}\nbind_address={self.host}\n"
            "[sound]\nechocancellation=0\n"
        )
        self.audio = self.home / "tone.wav"
        with wave.open(str(self.audio), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(sine((tone_hz,), 30.0) if tone_hz else b"\0\0" * 8000)
        self.recording = self.home / "heard.wav"
        self.log = self.home / "linphonec.out"
        self.auto_answer = auto_answer
        self.proc: asyncio.subprocess.Process | None = None
        self.text = ""
        self._changed = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"sip:{self.user}@{host}:{self.port}"

    async def __aenter__(self) -> Linphone:
        env = dict(os.environ, HOME=str(self.home))
        self.proc = await asyncio.create_subprocess_exec(
            need("linphonec"), "-c", str(self.rc), "-d", "0",
            *(("-a",) if self.auto_answer else ()),
            env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._pump = asyncio.create_task(self._read())
        await wait_udp_bound(self.port, within=15.0)
        self.command("soundcard use files")
        self.command(f"play {self.audio}")
        self.command(f"record {self.recording}")
        await self.wait_output(r"Using wav files instead of soundcard")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None and self.proc.stdin:
            self.command("quit")
            try:
                await asyncio.wait_for(self.proc.wait(), 3)
            except TimeoutError:
                pass
        await super().__aexit__(*exc)
        if self._pump is not None:
            self._pump.cancel()
        self.log.write_text(self.text)

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while chunk := await self.proc.stdout.read(4096):
            self.text += chunk.decode(errors="replace")
            self._changed.set()

    def output(self) -> str:
        return self.text

    def heard(self, freq: float) -> int:
        """How many 20 ms frames of what the phone received carried ``freq`` (read from the
        recording linphonec writes in file mode; complete once the call has ended)."""
        if not self.recording.exists():
            return 0
        with wave.open(str(self.recording), "rb") as w:
            pcm, rate, width = w.readframes(w.getnframes()), w.getframerate(), w.getsampwidth()
            if w.getnchannels() == 2:
                pcm = audioop.tomono(pcm, width, 0.5, 0.5)
        if rate != 8000:
            pcm, _ = audioop.ratecv(pcm, width, 1, rate, 8000, None)
        frame = 160 * width
        return sum(has_tone(pcm[i:i + frame], freq) for i in range(0, len(pcm) - frame, frame))

    def command(self, line: str) -> None:
        """Type one linphonec command."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")

    async def wait_output(self, pattern: str, within: float = 10.0, *, after: int = 0) -> str:
        """Wait (bounded) until stdout, from offset ``after``, matches ``pattern``."""
        async def find() -> str:
            while True:
                found = re.search(pattern, self.text[after:])
                if found:
                    return found.group(0)
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(find(), within)
        except TimeoutError:
            raise TimeoutError(f"linphonec never printed {pattern!r}:\n{self.text}") from None
