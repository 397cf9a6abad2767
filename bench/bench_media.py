"""The media clock on its own: CPU per RTP packet sent and received, without SIP or a database.

Run (about 2 minutes; all traffic on 127.0.0.1):

    .venv/bin/python bench/bench_media.py                     # 1,000 and 2,000 legs, C and Python
    .venv/bin/python bench/bench_media.py --legs 2000 --seconds 20 --cores c

Each core (``sip/media/_core.c`` and its Python reference ``pycore.py``) runs in a process of
its own (``CTI_MEDIA_CORE``), one after the other, and the ratio of their CPU per packet is
printed.

N legs are opened on one ``MediaClock`` (as in a media worker) with hold audio; a peer process
(plain Python, bounded: ``--seconds`` of rounds) has one socket per leg, like a phone, sends
each leg one PCMU packet every 20 ms from it and does not read what the leg sends back (its
small receive buffer drops it). Printed per N: this process's CPU per
packet handled (sent + received, from ``os.times``) and the kernel's share of it (system
time: the system calls, and on loopback the delivery into the receiver's socket), the share
of one core, packets
sent and received per leg per second, and the clock's late ticks. The figures are this
process's only, the peer's CPU is not counted; run it on a quiet machine and compare runs of
the same day (the kernel is two thirds of a packet's cost, so the machine's state moves it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

from cti.runtime import run as run_loop
from cti.sip.audio import Player
from cti.sip.media import core
from cti.sip.media.rtp import MediaClock, RtpSession, core_name, open_session
from cti.sip.sdp import Codec

HOST = "127.0.0.1"
PEER = """
import socket, struct, sys, time
legs, rounds = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(legs):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind(("127.0.0.1", 0))
    socks.append(sock)
print(",".join(str(s.getsockname()[1]) for s in socks), flush=True)
ports = [int(p) for p in sys.stdin.readline().split(",")]
header = struct.Struct("!BBHII")
payload = b"\\xff" * 160
due = time.monotonic()
for r in range(rounds):
    packet = header.pack(0x80, 0, r & 0xFFFF, (r * 160) & 0xFFFFFFFF, 0x1234) + payload
    for sock, port in zip(socks, ports):
        try:
            sock.sendto(packet, ("127.0.0.1", port))
        except OSError:
            pass
    due += 0.02
    late = due - time.monotonic()
    if late > 0:
        time.sleep(late)
"""


def context_switches() -> int:
    """This process's context switches so far (voluntary: it slept; involuntary: preempted)."""
    with open("/proc/self/status") as status:
        return sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)


async def run(legs: int, seconds: float) -> dict[str, float]:
    clock = MediaClock()
    audio = b"\xff" * 8000
    sessions: list[RtpSession] = []
    rounds = int(seconds / 0.02)
    peer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PEER, str(legs), str(rounds), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE)
    assert peer.stdin is not None and peer.stdout is not None
    try:
        line = await asyncio.wait_for(peer.stdout.readline(), 60)
        for port in line.decode().split(","):
            session = await open_session(HOST, None, Codec.PCMU, 101, (HOST, int(port)),
                                         lambda _d: None, clock, rtcp_interval_s=3600)
            session.player = Player(audio, "hold", loop=True)
            sessions.append(session)
            clock.add(session)
        await asyncio.sleep(0.5)  # every leg ticking before the count starts
        sent0, received0 = clock.frames_sent, sum(s.packets_in for s in sessions)
        late0 = clock.late_ticks
        times0, wall0, switches0 = os.times(), time.monotonic(), context_switches()
        peer.stdin.write((",".join(str(s.local_port) for s in sessions) + "\n").encode())
        await peer.stdin.drain()
        await asyncio.wait_for(peer.wait(), seconds * 3 + 30)
        times, wall = os.times(), time.monotonic() - wall0
        user, system = times.user - times0.user, times.system - times0.system
        cpu = user + system
        switches = context_switches() - switches0
        sent = clock.frames_sent - sent0
        received = sum(s.packets_in for s in sessions) - received0
        packets = max(1, sent + received)
        return {"legs": legs, "cpu_us_per_packet": cpu / packets * 1e6,
                "system_share_pct": 100 * system / max(cpu, 1e-9),
                "core_pct": 100 * cpu / wall, "sent_pps": sent / wall / legs,
                "received_pps": received / wall / legs, "late_ticks": clock.late_ticks - late0,
                "switches_per_s": switches / wall}
    finally:
        if peer.returncode is None:
            peer.kill()
            await peer.wait()
        for session in sessions:
            clock.remove(session)
            session.close()
        clock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--legs", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cores", nargs="+", choices=("c", "python"),
                        default=["c", "python"] if core.built() else ["python"],
                        help="media cores to compare, each in a process of its own")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one row, as JSON, on the core that CTI_MEDIA_CORE chose
        row = run_loop(run(args.legs[0], args.seconds))
        print(json.dumps({**row, "core": core_name()}), flush=True)
        return
    print(f"== bench_media {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC, "
          f"load={' '.join(f'{x:.2f}' for x in os.getloadavg())}, cores {args.cores}",
          flush=True)
    for legs in args.legs:
        rows = {}
        for name in args.cores:
            child = subprocess.run(
                [sys.executable, __file__, "--child", "--legs", str(legs), "--seconds",
                 str(args.seconds)], env={**os.environ, core.ENV: name}, capture_output=True,
                text=True, timeout=args.seconds * 3 + 120, check=True)
            row = rows[name] = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"  {legs:5} legs, {row['core']:6} core: {row['cpu_us_per_packet']:.2f} µs CPU "
                  f"per packet (sent + received; {row['system_share_pct']:.0f} % of it in the "
                  f"kernel), {row['core_pct']:.0f} % of a core, per leg "
                  f"{row['sent_pps']:.1f} sent / {row['received_pps']:.1f} received pkt/s, "
                  f"late ticks {row['late_ticks']}, {row['switches_per_s']:.0f} context "
                  "switches/s", flush=True)
        if len(rows) == 2:
            ratio = rows["python"]["cpu_us_per_packet"] / rows["c"]["cpu_us_per_packet"]
            print(f"  {legs:5} legs: the Python core costs {ratio:.2f}x the C core's CPU per "
                  "packet", flush=True)


if __name__ == "__main__":
    main()
