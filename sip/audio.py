"""Prompt and tone audio: 8 kHz mono, held as 16-bit linear PCM, encoded per codec once.

Prompts are WAV files ``<prompt_dir>/<name>.wav`` (any rate/width/channels; converted to
8 kHz mono on load). Tones: ``tone:hold`` (soft two-note hold tone), ``tone:ringback``
(Japanese ringback, 400 Hz 1 s on / 2 s off), ``tone:<hz>`` (continuous sine), ``silence``.
``tts:<text>`` is spoken by the synthesiser handed in (see ``cti.sip.prompts``) and cached.
"""

from __future__ import annotations

import asyncio
import audioop
import hashlib
import math
import subprocess
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

import structlog

from cti.sip.errors import UnknownPromptError
from cti.sip.sdp import Codec

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
SILENCE_PCM = b"\x00\x00" * FRAME_SAMPLES
log = structlog.get_logger("cti.sip.audio")

Synthesizer = Callable[[str, Path], None]  # (text, wav_path) -> writes the WAV


def sine(freqs: tuple[float, ...], seconds: float, amplitude: float = 0.25) -> bytes:
    n = int(RATE * seconds)
    out = bytearray()
    scale = amplitude * 32767 / max(1, len(freqs))
    for i in range(n):
        v = sum(math.sin(2 * math.pi * f * i / RATE) for f in freqs) * scale
        out += int(v).to_bytes(2, "little", signed=True)
    return bytes(out)


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(RATE * seconds)


def read_wav(path: Path) -> bytes:
    """A WAV file as 8 kHz mono 16-bit little-endian PCM."""
    with wave.open(str(path), "rb") as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        data = w.readframes(w.getnframes())
    if width == 1:
        data = audioop.bias(data, 1, -128)  # WAV 8-bit is unsigned
    if width != 2:
        data = audioop.lin2lin(data, width, 2)
    if channels == 2:
        data = audioop.tomono(data, 2, 0.5, 0.5)
    elif channels != 1:
        raise ValueError(f"{path}: {channels} channels")
    if rate != RATE:
        data, _ = audioop.ratecv(data, 2, 1, rate, RATE, None)
    return data


def encode(pcm: bytes, codec: Codec) -> bytes:
    """16-bit linear to G.711. Defect 9: pyVoIP encodes PCMA with the µ-law encoder."""
    if codec is Codec.PCMA:
        return audioop.lin2alaw(pcm, 2)
    return audioop.lin2ulaw(pcm, 2)


def decode(payload: bytes, codec: Codec) -> bytes:
    if codec is Codec.PCMA:
        return audioop.alaw2lin(payload, 2)
    return audioop.ulaw2lin(payload, 2)


def transcode(payload: bytes, src: Codec, dst: Codec) -> bytes:
    if src is dst:
        return payload
    return encode(decode(payload, src), dst)


def _default_synthesizer() -> Synthesizer:
    from cti.sip.prompts import synthesize  # Open JTalk / espeak-ng; imported only when needed

    return synthesize


class PromptLibrary:
    """Loads prompts and tones once and keeps them encoded per codec."""

    def __init__(self, prompt_dir: Path, synthesize: Synthesizer | None = None,
                 cache_dir: Path | None = None) -> None:
        """``synthesize`` speaks ``tts:`` prompts (default: ``cti.sip.prompts.synthesize``);
        ``cache_dir`` keeps their WAVs across restarts (default: memory only)."""
        self.prompt_dir = prompt_dir
        self._synthesize = synthesize
        self._cache_dir = cache_dir
        self._pcm: dict[str, bytes] = {}
        self._encoded: dict[tuple[str, Codec], bytes] = {}

    def pcm(self, name: str) -> bytes:
        """PCM of a prompt, tone or already synthesised tts: name (raises UnknownPromptError)."""
        if name in self._pcm:
            return self._pcm[name]
        pcm = self._load(name)
        self._pcm[name] = pcm
        return pcm

    def encoded(self, name: str, codec: Codec) -> bytes:
        key = (name, codec)
        if key not in self._encoded:
            self._encoded[key] = encode(self.pcm(name), codec)
        return self._encoded[key]

    def missing(self, names: tuple[str, ...] | list[str]) -> list[str]:
        """The names that cannot be played (check at start-up; ``tts:`` names are not checked)."""
        out = []
        for name in names:
            if name.startswith("tts:"):
                continue
            try:
                self.pcm(name)
            except UnknownPromptError:
                out.append(name)
        return out

    async def prepare(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Load every name; synthesise ``tts:`` names off the event loop.

        Returns the playable names: a ``tts:`` text that cannot be spoken (no speech engine)
        is left out with a log line, so the rest of the announcement still plays. Any other
        unknown name raises UnknownPromptError.
        """
        playable = []
        for name in names:
            if name not in self._pcm:
                if name.startswith("tts:"):
                    try:
                        self._pcm[name] = await asyncio.to_thread(self._tts, name[4:])
                    except (OSError, ValueError, RuntimeError, UnknownPromptError,
                            subprocess.SubprocessError) as exc:
                        log.warning("sip.tts_failed", text=name[4:60], error=repr(exc))
                        continue
                else:
                    self.pcm(name)
            playable.append(name)
        return tuple(playable)

    def _load(self, name: str) -> bytes:
        if name == "silence":
            return silence(1.0)
        if name == "tone:hold":
            return sine((523.25,), 0.4) + silence(0.1) + sine((659.25,), 0.4) + silence(3.1)
        if name == "tone:ringback":
            return sine((400.0,), 1.0) + silence(2.0)
        if name.startswith("tone:"):
            try:
                hz = float(name[5:])
            except ValueError:
                raise UnknownPromptError(name) from None
            if not 20 <= hz <= 3800:
                raise UnknownPromptError(name)
            return sine((hz,), 1.0)
        if name.startswith("tts:"):
            raise UnknownPromptError(name)  # needs prepare() first
        if "/" in name or "\\" in name or name.startswith("."):
            raise UnknownPromptError(name)
        path = self.prompt_dir / f"{name}.wav"
        if not path.is_file():
            raise UnknownPromptError(name)
        return read_wav(path)

    def _tts(self, text: str) -> bytes:
        synthesize = self._synthesize or _default_synthesizer()
        digest = hashlib.sha256(text.encode()).hexdigest()[:24]
        if self._cache_dir is None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "tts.wav"
                synthesize(text, path)
                return read_wav(path)
        path = self._cache_dir / f"tts-{digest}.wav"
        if not path.is_file():
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            synthesize(text, path)
        return read_wav(path)


class Player:
    """A playlist (encoded in the leg's codec), optionally looping: what a leg plays. The media
    core sends its frames (``media/pycore.py``, ``_core.c``); ``finished`` is called when a
    playlist that does not loop has been played."""

    def __init__(self, audio: bytes, name: str, *, loop: bool,
                 on_finished: Callable[[str], None] | None = None) -> None:
        self.audio = audio
        self.name = name
        self.loop = loop
        self._on_finished = on_finished

    @property
    def on_finished(self) -> Callable[[str], None] | None:
        """Called once with the name when a playlist that does not loop has been played."""
        return self._on_finished

    def finished(self) -> None:
        """The playlist has been played: tell ``on_finished``, once."""
        if self._on_finished is not None:
            callback, self._on_finished = self._on_finished, None
            callback(self.name)
