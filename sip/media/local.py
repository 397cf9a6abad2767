"""Media on the service's own event loop (``[sip] media_workers = 0``): one process, one core.

The small-installation and test-double-free path: the same ``RtpSession`` and ``MediaClock`` a
worker runs, without the pipe."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from cti.sip.media.leg import MediaLeg
from cti.sip.media.rtp import MediaClock, RtpSession, open_session
from cti.sip.sdp import Codec


class LocalMedia:
    def __init__(self) -> None:
        self.clock = MediaClock()

    @property
    def sessions(self) -> set[MediaLeg]:
        return cast(set[MediaLeg], self.clock.sessions)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def open(self, host: str, ports: range | None, codec: Codec, event_pt: int | None,
                   remote: tuple[str, int], on_digit: Callable[[str], None], *,
                   rtcp_interval_s: float, near: MediaLeg | None = None) -> MediaLeg:
        return await open_session(host, ports, codec, event_pt, remote, on_digit, self.clock,
                                  rtcp_interval_s=rtcp_interval_s)

    def add(self, leg: MediaLeg) -> None:
        assert isinstance(leg, RtpSession)
        self.clock.add(leg)

    def remove(self, leg: MediaLeg) -> None:
        assert isinstance(leg, RtpSession)
        self.clock.remove(leg)

    @property
    def late_ticks(self) -> int:
        return self.clock.late_ticks

    @property
    def frames_sent(self) -> int:
        return self.clock.frames_sent

    async def refresh(self) -> None:
        return None  # the counters are read where they are counted

    def health(self) -> str:
        return "ok"

    def set_lost(self, callback: Callable[[list[MediaLeg]], None]) -> None:
        return None  # media on our own loop dies only with the service
