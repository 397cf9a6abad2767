"""How ``cti serve`` runs its process: the garbage-collector settings and the pause log.

Each case runs in a process of its own: ``gc.freeze()`` and the thresholds are process-wide.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import gc, json, sys
    from structlog.testing import capture_logs
    from cti import runtime

    runtime.GC_PAUSE_LOGGED_S = 0.0  # log every collection, to count them
    with capture_logs() as logs:
        done = runtime.settle_gc()
        started = len(logs)
        gc.collect()  # a collection while the service runs
    pauses = [e for e in logs if e["event"] == "runtime.gc_pause"]
    print(json.dumps({"done": done, "at_start": started, "pauses": len(pauses),
                      "generation": pauses[-1]["generation"] if pauses else None,
                      "threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
""")


def probe(gc_env: str | None) -> dict[str, object]:
    env = {"PATH": "/usr/bin:/bin", **({"CTI_GC": gc_env} if gc_env else {})}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env, timeout=60, check=True)
    # (the collections at interpreter exit log their pauses too, after the capture)
    return dict(json.loads(next(line for line in out.stdout.splitlines() if line[:1] == "{")))


@pytest.mark.parametrize("gc_env", [None, "default"])
def test_the_start_up_collection_is_not_logged_as_a_pause_and_later_ones_are(
        gc_env: str | None) -> None:
    got = probe(gc_env)
    assert got["at_start"] == 0, got  # settle_gc's own full collection: before any call
    assert (got["pauses"], got["generation"]) == (1, 2), got  # the one after it is watched


def test_tuned_settings_freeze_start_up_and_raise_the_thresholds() -> None:
    from cti.runtime import GC_THRESHOLDS

    tuned, default = probe(None), probe("default")
    assert tuned["threshold"] == list(GC_THRESHOLDS) and int(str(tuned["frozen"])) > 10_000
    assert str(tuned["done"]).startswith("frozen ")
    assert default["threshold"] == [700, 10, 10] and default["frozen"] == 0
    assert default["done"] == "default"
