"""Where a call's RTP lives: in media worker processes (default) or on the service's loop.

``leg.py`` is the interface the call path uses, ``remote.py`` the workers (and ``worker.py``
their process, ``wire.py`` the pipe), ``local.py`` the in-process variant. The RTP itself
(sessions, clock, ports) is ``rtp.py`` (and ``rtcp.py``), the same code in both; its
per-packet work is the media core's (``_core.c``, or its Python reference ``pycore.py``;
``core.py`` picks).
"""

from __future__ import annotations

import os
import resource

from cti.sip.media.leg import Media, MediaLeg

CAP_SYS_NICE = 23  # linux/capability.h
# Callers on hold whose every stream stays on time (>= 49 packets/s, gaps <= 60 ms), measured
# on the 2-core reference machine with the load generator beside it (bench/RESULTS.md,
# Capacity), by media core: per media worker, and with media on the service's own loop
# (media_workers = 0). C: one worker 2,000 (the most measured; 34 ms gaps), in-process 1,000
# (44 ms; 84-96 ms at 2,000). Python: one worker 1,000 (1,500 at the edge, 2,000 not),
# in-process 400 (82 ms gaps at 1,000).
CALLS_ON_TIME = {"c": (2_000, 1_000), "python": (1_000, 400)}  # (per worker, in-process)


def may_lower_priority(by: int) -> bool:
    """Whether this process (and so its media workers) may lower its nice value by ``-by``:
    root, CAP_SYS_NICE, or an RLIMIT_NICE that allows it (systemd ``LimitNICE=``)."""
    if by >= 0 or os.geteuid() == 0:
        return True
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            caps = next((int(line.split()[1], 16) for line in status
                         if line.startswith("CapEff:")), 0)
    except OSError:
        caps = 0
    if caps & (1 << CAP_SYS_NICE):
        return True
    soft, _hard = resource.getrlimit(resource.RLIMIT_NICE)  # the floor is 20 - soft
    target = os.getpriority(os.PRIO_PROCESS, 0) + by
    return soft == resource.RLIM_INFINITY or target >= 20 - soft


def calls_on_time(workers: int, core: str | None = None) -> int:
    """How many concurrent callers ``workers`` media workers keep on time (see above), on
    ``core`` ("c" or "python"; default: the one this process runs)."""
    if core is None:
        from cti.sip.media.rtp import core_name

        core = core_name()
    per_worker, in_process = CALLS_ON_TIME[core]
    return per_worker * workers if workers > 0 else in_process


def make_media(workers: int, log_format: str = "auto", nice: int = 0) -> Media:
    """``workers`` media processes (at scheduling priority ``nice``); 0: media on the calling
    event loop."""
    if workers <= 0:
        from cti.sip.media.local import LocalMedia

        return LocalMedia()
    from cti.sip.media.remote import WorkerMedia

    return WorkerMedia(workers, log_format, nice)


__all__ = ["CALLS_ON_TIME", "Media", "MediaLeg", "calls_on_time", "make_media", "may_lower_priority"]
