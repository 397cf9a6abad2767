"""The CallControl protocol: the only view of telephony the rest of the service has.

Commands in (async methods), events out (``events()``, an async iterator of frozen CallEvents).

Contract, shared by the pyVoIP-backed adapter and the in-memory fake:

- A call appears with ``CallOffered`` and disappears after exactly one ``CallEnded``.
- Digits arrive only as ``DigitReceived`` events (RFC 2833 or SIP INFO), never through a
  blocking "collect" call: the IVR (``cti.sip.ivr``) is a sans-IO state machine that the
  coordinator feeds with these events and with its own deadlines.
- ``play(call_id, prompt)`` starts playback and returns at once; a non-looping playback that
  reaches its end emits ``PlaybackFinished``. ``prompt`` is a prompt name under
  ``config/prompts`` (``greeting``), several names joined with ``+`` or given as a sequence
  (``("menu_intro", "menu_isolation")``), or a tone (``tone:hold``, ``tone:ringback``,
  ``tone:<hz>``, ``silence``). A new ``play`` replaces the current one.
- ``connect_to_operator`` returns once the outbound leg is placed; the outcome arrives as
  ``OperatorRinging`` then ``OperatorConnected`` / ``OperatorNoAnswer`` / ``OperatorFailed``.
  The caller's call survives a failed operator leg; playback continues while the operator rings
  and stops when the bridge is up.
- Commands for an unknown or ended call raise ``CallNotFoundError``, except ``hangup``, which
  is idempotent (a race with the caller hanging up is normal).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cti.sip.events import CallEvent

Prompt = str | Sequence[str]


def _split(item: str) -> list[str]:
    """``"a+b+tts:x+y"`` -> ``["a", "b", "tts:x+y"]``: a tts: text runs to the end of the item."""
    head, sep, text = item.partition("tts:")
    parts = head.split("+")
    if sep:
        parts[-1] = parts[-1] + sep + text
    return parts


def prompt_names(prompt: Prompt) -> tuple[str, ...]:
    """Normalise a prompt argument to a tuple of names (``"a+b"`` and ``("a", "b")`` alike)."""
    parts = _split(prompt) if isinstance(prompt, str) else [p for x in prompt for p in _split(x)]
    names = tuple(p.strip() for p in parts if p.strip())
    if not names:
        raise ValueError("empty prompt")
    return names


@dataclass(frozen=True, slots=True)
class SocketHealth:
    """The SIP socket's real state (for /healthz and the metrics), not what we hope it is."""

    bound: bool
    local: str
    datagrams_received: int
    last_datagram_at: float | None  # unix time
    send_errors: int
    last_send_error: str
    reopened: int
    datagrams_dropped: int = 0  # by the kernel: the receive queue was full (overload)
    invites_refused_rate: int = 0  # flood control: a source over its INVITE rate (503)
    invites_refused_capacity: int = 0  # flood control: the concurrent-call cap reached (503)
    invites_refused_saturated: int = 0  # back-pressure: the service ran late (503)
    invites_refused_rtp_ports: int = 0  # no free RTP port pair (503)
    refusals_unrecorded: int = 0  # refusals over the record budget: counted here only
    media: str = "ok"  # the media workers: "ok" or "error: ..." (one died, restarting)
    media_late_ticks: int = 0  # legs whose audio fell > 60 ms behind (as of the last report)


@runtime_checkable
class CallControl(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def events(self) -> AsyncIterator[CallEvent]: ...

    async def answer(self, call_id: str) -> None: ...

    async def play(self, call_id: str, prompt: Prompt, *, loop: bool = False) -> None: ...

    async def stop_playback(self, call_id: str) -> None: ...

    async def connect_to_operator(
        self, call_id: str, operator_uri: str, ring_timeout_s: float
    ) -> None: ...

    async def hangup(self, call_id: str) -> None: ...

    def socket_health(self) -> SocketHealth | None: ...
