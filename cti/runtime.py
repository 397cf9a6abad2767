"""How ``cti serve`` runs its process: the event loop and the garbage collector.

- Event loop: uvloop when it is installed (``pip install uvloop``, or the ``fast`` extra), the
  standard asyncio loop otherwise; ``CTI_UVLOOP=0`` forces the standard loop (to compare).
- Garbage collector: after start-up, everything built so far (modules, settings, prompts, the
  app) is moved out of the collector's sight (``gc.freeze()``) and the thresholds are raised, so
  full collections scan only what calls create, and run far less often: they were the 70-130 ms
  pauses every caller heard as a gap in the hold audio. The young generation is raised only so
  far that a young collection stays a few milliseconds. ``CTI_GC=default`` keeps
  CPython's defaults (to compare). Measured in ``bench/RESULTS.md`` (Capacity, issue 14).
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

import structlog

log = structlog.get_logger()
T = TypeVar("T")
# CPython's defaults: (700, 10, 10). A young generation of 50,000 (the first choice) made each
# young collection a 17-57 ms pause every ~2 s at 300 calls/s (INVITEs answered that much
# later, in clusters); 10,000 keeps them under 8 ms with no full collection during the run.
GC_THRESHOLDS: Final = (10_000, 50, 100)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when installed and not switched off, else None (the standard loop)."""
    if os.environ.get("CTI_UVLOOP", "1") == "0":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the chosen event loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


GC_PAUSE_LOGGED_S: Final = 0.05  # a collection this long is a gap every caller hears


def watch_gc_pauses() -> None:
    """Log every garbage collection that stops the process for ``GC_PAUSE_LOGGED_S`` or more
    (``runtime.gc_pause``, warning): the audio of every call stops with it."""
    started: list[float] = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        elif (paused := time.perf_counter() - started[0]) >= GC_PAUSE_LOGGED_S:
            log.warning("runtime.gc_pause", generation=info.get("generation"),
                        pause_ms=round(paused * 1000, 1), collected=info.get("collected"))

    gc.callbacks.append(callback)


def settle_gc() -> str:
    """Call once the service has started: freeze what start-up built, raise the thresholds.
    Returns what was done (for the start-up log). Pauses are watched from then on: the
    deliberate full collection here, before any call, is not one a caller hears."""
    if os.environ.get("CTI_GC", "tuned") == "default":
        done = "default"
    else:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        done = f"frozen {gc.get_freeze_count()} objects, thresholds {GC_THRESHOLDS}"
    watch_gc_pauses()
    return done
