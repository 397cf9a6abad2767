"""What the call path sees of one call leg's media, wherever its sockets live.

``rtp.RtpSession`` (media on the service's own event loop) and ``remote.RemoteSession`` (media
in a worker process) both are a ``MediaLeg``; ``Media`` is what opens them and paces them
(``local.LocalMedia``, ``remote.WorkerMedia``). Signalling (``adapter``, ``inbound``,
``operator``, ``indialog``, ``transfer``) only ever uses these two protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cti.sip.audio import Player
from cti.sip.sdp import Codec


class MediaLeg(Protocol):
    """One leg's RTP: the agreed codec and peer, playback, and the bridge to another leg."""

    codec: Codec
    event_pt: int | None
    remote: tuple[str, int]
    remote_direction: str  # what the peer last offered or answered
    send_enabled: bool  # False while the peer holds us: nothing on the wire
    player: Player | None  # what this leg plays (None: silence, or the bridged peer's audio)

    @property
    def local_port(self) -> int: ...

    @property
    def peer(self) -> MediaLeg | None: ...  # the bridged leg, if any

    @property
    def last_rx(self) -> float | None: ...  # time.monotonic() of the last packet received

    ssrc: int  # of the RTP we send
    packets_in: int  # RTP packets received (a worker's leg: as of ``Media.refresh``)
    packets_out: int

    def bridge_to(self, other: MediaLeg) -> None: ...

    def unbridge_from(self, other: MediaLeg) -> None: ...

    def close(self) -> None: ...


class Media(Protocol):
    """Opens legs and paces their audio on the 20 ms clock."""

    @property
    def sessions(self) -> set[MediaLeg]: ...  # the legs on the clock (sending)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def open(self, host: str, ports: range | None, codec: Codec, event_pt: int | None,
                   remote: tuple[str, int], on_digit: Callable[[str], None], *,
                   rtcp_interval_s: float, near: MediaLeg | None = None) -> MediaLeg:
        """Bind a leg (``near``: a leg it will be bridged to, so both share a process); raises
        OSError when no port is free or the media process is down."""
        ...

    def add(self, leg: MediaLeg) -> None: ...  # start sending (after the answer)

    def remove(self, leg: MediaLeg) -> None: ...

    async def refresh(self) -> None: ...  # counters (packets, last_rx) up to date now

    @property
    def late_ticks(self) -> int: ...  # legs whose audio fell > 60 ms behind, since start

    @property
    def frames_sent(self) -> int: ...  # RTP frames sent, since start

    def health(self) -> str: ...  # "ok" or "error: ..."

    def set_lost(self, callback: Callable[[list[MediaLeg]], None]) -> None:
        """Who is told of legs whose media process died (their calls must end)."""
        ...
