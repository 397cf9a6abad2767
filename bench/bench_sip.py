"""SIP front door benchmark: SIPp against cti.sip and against a bare pyVoIP phone.

Run (about 10 minutes; all traffic on 127.0.0.1; needs sipp and kamailio):

    .venv/bin/python bench/bench_sip.py            # full run
    .venv/bin/python bench/bench_sip.py --quick    # shorter steps (about 4 minutes)

Both targets register with the same in-memory Kamailio (pyVoIP 1.6.8 cannot answer a peer
directly: it sends everything to its registrar), and SIPp calls them through it. Each target
runs in its own process, so its CPU (% of one core) and RSS are read from /proc.
Figures printed per target:
  - short calls: the highest rate (calls/s) in the ramp with 0 failed calls, and the
    INVITE -> 200 OK p50/p99 (SIPp's response-time measurement) at that rate;
  - long calls: N concurrent calls of --long-s seconds with RTP both ways, failures, and the
    RTP packets/s the target sent per call (cti.sip only: pyVoIP exposes no counter);
  - CPU and peak RSS during each phase;
and the ratio cti.sip / pyVoIP. Targets on the 2-core machine: >= 60 calls/s short calls,
>= 100 concurrent calls with RTP, p99 INVITE -> 200 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import audioop
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "sip"))

from peers import (  # noqa: E402
    Kamailio,
    SippResult,
    free_udp_port,
    render,
    run_sipp,
    wait_udp_bound,
)

from cti.sip.audio import sine  # noqa: E402

PASSWORD = "bench-secret"
TICK = os.sysconf("SC_CLK_TCK")


# -- the two targets, each run as `bench_sip.py --serve KIND` ----------------------------------
async def serve_door(sip_port: int, registrar_port: int, stats_path: Path) -> None:
    import logging

    import structlog

    from cti.sip.adapter import SipFrontDoor
    from cti.sip.audio import PromptLibrary
    from cti.sip.events import CallOffered, RegistrationChanged, RegistrationState
    from cti.sip.settings import RegistrarSettings, SipSettings

    # the target logs warnings only (to stderr): per-call info lines would bias its CPU figure
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    settings = SipSettings(
        prompt_dir=ROOT / "config" / "prompts", bind_port=sip_port, user="helpdesk",
        registrar=RegistrarSettings("127.0.0.1", registrar_port, "helpdesk", PASSWORD,
                                    expires_s=300, retry_s=0.5))
    door = SipFrontDoor(settings, PromptLibrary(settings.prompt_dir))
    await door.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def dump_stats() -> None:
        await door.rtp.refresh()  # a media worker's counters as of now
        text = json.dumps({"frames_sent": door.rtp.frames_sent, "late_ticks": door.rtp.late_ticks})
        await asyncio.to_thread(stats_path.write_text, text)

    loop.add_signal_handler(signal.SIGUSR1, lambda: door.spawn(dump_stats()))

    registered = asyncio.Event()

    async def drive() -> None:
        async for event in door.events():
            if isinstance(event, RegistrationChanged) and event.state is RegistrationState.REGISTERED:
                registered.set()
            if isinstance(event, CallOffered):
                try:
                    await door.answer(event.call_id)
                    await door.play(event.call_id, "tone:hold", loop=True)
                except Exception as exc:  # a call that vanished meanwhile
                    print("answer failed", exc, file=sys.stderr)

    task = asyncio.create_task(drive())
    await registered.wait()
    print("READY", flush=True)
    await stop.wait()
    await door.stop()
    await task


def serve_pyvoip(sip_port: int, registrar_port: int) -> None:
    import audioop
    import threading

    from cti.sip.audio import sine
    from cti.sip.pyvoip import CallState, VoIPPhone

    tone = audioop.bias(audioop.lin2lin(sine((440.0,), 1.0), 2, 1), 1, 128)  # 8-bit unsigned

    def answer(call: Any) -> None:  # a pyVoIP VoIPCall
        try:
            call.answer()
            call.write_audio(tone * 90)
            while call.state == CallState.ANSWERED:
                time.sleep(0.1)
        except Exception as exc:
            print("pyvoip call failed", exc, file=sys.stderr)

    if os.environ.get("CTI_BENCH_PYVOIP_DEBUG"):
        import pyVoIP

        pyVoIP.DEBUG = True
    low = free_udp_port()
    phone = VoIPPhone("127.0.0.1", registrar_port, "pyvoip", PASSWORD, myIP="127.0.0.1",
                      callCallback=answer, sipPort=sip_port, rtpPortLow=20000,
                      rtpPortHigh=40000)
    del low
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    phone.start()
    print("READY", flush=True)
    sys.stdout = sys.stderr  # pyVoIP prints its debug output and errors
    done.wait()
    os._exit(0)  # pyVoIP's stop() can hang (defect 7); the benchmark only needs it gone


# -- measuring ----------------------------------------------------------------------------------
class ProcStats:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss_mb = 0.0

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def sample_rss(self) -> None:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) / 1024)

    def threads(self) -> int:
        return len(list(Path(f"/proc/{self.pid}/task").iterdir()))


async def measured(stats: ProcStats, coro: Coroutine[Any, Any, SippResult]
                   ) -> tuple[SippResult, float]:
    """Run a SIPp phase; return its result and the target's CPU in % of one core."""
    cpu0, t0 = stats.cpu_s(), time.monotonic()
    task = asyncio.ensure_future(coro)
    while not task.done():
        stats.sample_rss()
        await asyncio.wait([task], timeout=1.0)
    return task.result(), 100 * (stats.cpu_s() - cpu0) / (time.monotonic() - t0)


def sipp_counts(stdout: str) -> tuple[int, int]:
    ok = failed = 0
    for line in stdout.splitlines():
        if line.strip().startswith("Successful call"):
            ok = int(line.split()[-1])
        elif line.strip().startswith("Failed call"):
            failed = int(line.split()[-1])
    return ok, failed


def _read_stats(path: Path) -> dict[str, int] | None:
    text = path.read_text() if path.exists() else ""
    return json.loads(text) if text else None


async def door_stats(proc: asyncio.subprocess.Process, path: Path) -> dict[str, int]:
    """Ask the cti.sip target for its media counters (SIGUSR1 -> stats file)."""
    await asyncio.to_thread(path.unlink, True)
    proc.send_signal(signal.SIGUSR1)
    for _ in range(250):
        data = await asyncio.to_thread(_read_stats, path)
        if data is not None:
            return data
        await asyncio.sleep(0.02)
    raise TimeoutError("target wrote no stats")


async def start_target(kind: str, kam_port: int, stats_path: Path
                       ) -> asyncio.subprocess.Process:
    sip_port = free_udp_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", kind, "--sip-port", str(sip_port),
        "--registrar-port", str(kam_port), "--stats", str(stats_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    while (line := await asyncio.wait_for(proc.stdout.readline(), 60)).strip() != b"READY":
        if not line:
            raise RuntimeError(f"{kind} target exited before it was ready")
    await wait_udp_bound(sip_port)
    return proc


async def stop_target(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def bench_target(kind: str, user: str, kam_port: int, args: argparse.Namespace,
                       work: Path) -> dict[str, Any]:
    """Short-call ramp on one target process, then long calls on a fresh one."""
    stats_path = work / f"{kind}-stats.json"
    out: dict[str, Any] = {"target": kind}
    extra = ("-s", user)
    proc = await start_target(kind, kam_port, stats_path)
    stats = ProcStats(proc.pid)
    best = None
    try:
        for rate in args.rates:
            calls = int(rate * args.step_s)
            xml = render("uac_basic.xml", work, codecs="0 8", pause_ms=1000)
            result, cpu = await measured(stats, run_sipp(
                xml, kam_port, work, calls=calls, rate=rate, timeout_s=args.step_s + 30,
                extra=("-l", str(rate * 4), *extra)))
            ok, failed = sipp_counts(result.stdout)
            rtt = sorted(float(x.split(";")[-2]) for x in result.rtt_csv.splitlines()
                         if x[:1].isdigit())
            p50 = statistics.median(rtt) if rtt else float("nan")
            p99 = rtt[min(len(rtt) - 1, int(0.99 * len(rtt)))] if rtt else float("nan")
            print(f"  {kind:7} short calls {rate:4} calls/s: ok={ok} failed={failed} "
                  f"p50={p50:.1f} ms p99={p99:.1f} ms cpu={cpu:.0f}%", flush=True)
            if failed or ok < calls:
                break
            best = {"rate": rate, "p50_ms": p50, "p99_ms": p99, "cpu_pct": cpu}
        out["short"] = best
        out["short_peak_rss_mb"] = stats.peak_rss_mb
    finally:
        await stop_target(proc)

    audio = work / "tone.ulaw"
    audio.write_bytes(audioop.lin2ulaw(sine((700.0,), 1.0), 2))
    xml = render("uac_long_rtp.xml", work, codecs="0 8", pause_ms=int(args.long_s * 1000),
                 audio=audio)
    proc = await start_target(kind, kam_port, stats_path)  # fresh: no debris of the ramp
    stats = ProcStats(proc.pid)
    try:
        frames0 = await door_stats(proc, stats_path) if kind == "door" else None
        result, cpu = await measured(stats, run_sipp(
            xml, kam_port, work, calls=args.concurrent, rate=args.concurrent / 5,
            timeout_s=args.long_s + 60, extra=("-l", str(args.concurrent), *extra)))
        ok, failed = sipp_counts(result.stdout)
        out["long"] = {"concurrent": args.concurrent, "ok": ok, "failed": failed,
                       "cpu_pct": cpu, "threads_after": stats.threads()}
        out["peak_rss_mb"] = stats.peak_rss_mb
        if frames0 is not None:
            frames1 = await door_stats(proc, stats_path)
            out["rtp_pkts_per_call_s"] = (frames1["frames_sent"] - frames0["frames_sent"]) / max(
                1, ok) / args.long_s
            out["late_ticks"] = frames1["late_ticks"] - frames0["late_ticks"]
    finally:
        await stop_target(proc)
    print(f"  {kind:7} {args.concurrent} concurrent {args.long_s:.0f} s calls with RTP: ok={ok} "
          f"failed={failed} cpu={cpu:.0f}% peak RSS={stats.peak_rss_mb:.0f} MB", flush=True)
    return out


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        async with Kamailio(work, password=PASSWORD, qop=False) as kam:
            results = []
            for kind, user in (("door", "helpdesk"), ("pyvoip", "pyvoip")):
                print(f"== {kind}", flush=True)
                results.append(await bench_target(kind, user, kam.port, args, work))
    if args.json:
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(results, indent=2))
    door, pv = results
    ds, ps = door.get("short") or {}, pv.get("short") or {}
    print("\n== summary (cti.sip vs bare pyVoIP 1.6.8, same run)")
    for key, label in (("rate", "max short calls/s, 0 failures"), ("p50_ms", "INVITE->200 p50 ms"),
                       ("p99_ms", "INVITE->200 p99 ms"), ("cpu_pct", "CPU % at that rate")):
        a, b = ds.get(key), ps.get(key)
        ratio = f"{a / b:.2f}x" if isinstance(a, float | int) and isinstance(b, float | int) and b else "n/a"
        fa = f"{a:.1f}" if isinstance(a, float) else str(a)
        fb = f"{b:.1f}" if isinstance(b, float) else str(b)
        print(f"  {label:34} {fa:>10} {fb:>10}  ratio {ratio}")
    dl, pl = door["long"], pv["long"]
    print(f"  {'concurrent long calls ok/failed':34} {dl['ok']}/{dl['failed']:<6} "
          f"{pl['ok']}/{pl['failed']}")
    print(f"  {'CPU % during long calls':34} {dl['cpu_pct']:>10.0f} {pl['cpu_pct']:>10.0f}")
    print(f"  {'peak RSS MB, long calls':34} {door['peak_rss_mb']:>10.0f} {pv['peak_rss_mb']:>10.0f}")
    print(f"  {'peak RSS MB, short-call ramp':34} {door['short_peak_rss_mb']:>10.0f} "
          f"{pv['short_peak_rss_mb']:>10.0f}")
    if "rtp_pkts_per_call_s" in door:
        print(f"  cti.sip RTP packets sent per call per second: {door['rtp_pkts_per_call_s']:.2f}"
              f" (media clock catch-ups: {door['late_ticks']})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=("door", "pyvoip"))
    parser.add_argument("--sip-port", type=int)
    parser.add_argument("--registrar-port", type=int)
    parser.add_argument("--stats", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--rates", type=int, nargs="+", default=[20, 40, 60, 80, 100])
    parser.add_argument("--step-s", type=float, default=8.0)
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--long-s", type=float, default=60.0)
    ns = parser.parse_args()
    if ns.serve == "door":
        asyncio.run(serve_door(ns.sip_port, ns.registrar_port, ns.stats))
    elif ns.serve == "pyvoip":
        serve_pyvoip(ns.sip_port, ns.registrar_port)
    else:
        if ns.quick:
            ns.rates, ns.step_s, ns.long_s = [20, 60, 80], 5.0, 20.0
        asyncio.run(main(ns))
