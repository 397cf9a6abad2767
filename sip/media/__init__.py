"""Where a call's RTP lives: in media worker processes (default) or on the service's loop.

``leg.py`` is the interface the call path uses, ``remote.py`` the workers (and ``worker.py``
their process, ``wire.py`` the pipe), ``local.py`` the in-process variant. The RTP itself
(sessions, clock, ports) is ``cti.sip.rtp``, the same code in both.
"""

from __future__ import annotations

from cti.sip.media.leg import Media, MediaLeg


def make_media(workers: int, log_format: str = "auto", nice: int = 0) -> Media:
    """``workers`` media processes (at scheduling priority ``nice``); 0: media on the calling
    event loop."""
    if workers <= 0:
        from cti.sip.media.local import LocalMedia

        return LocalMedia()
    from cti.sip.media.remote import WorkerMedia

    return WorkerMedia(workers, log_format, nice)


__all__ = ["Media", "MediaLeg", "make_media"]
