#!/usr/bin/env python3
"""Legitimate calls under a junk flood, and sip_core's CPU per dropped packet.

    sipp UAC 127.0.0.1 --calls--> sip_core (taskset core 1) --> sipp UAS
    floodsend 127.0.0.2 --20,000 junk datagrams/s--^  (bench/floodsend.c, core 0)

sip_core runs as ``python -m services.sip_core`` (the real node: its Protection gate, default
flood settings 200 requests / 10 s, a 1 h ban), statically routed to a sipp UAS, with a
nats-server of this script's own. The legitimate caller sends from 127.0.0.1, a platform
address (as an authorised customer's, exempt from flood counting); the flooder from 127.0.0.2.
Phases, each ``--seconds`` long and bounded in calls and time:

1. **baseline** — sipp places ``--rate`` calls/s (``-m rate*seconds``): completed calls/s;
2. **flood** — the same while floodsend sends ``--flood-rate`` junk/s from 127.0.0.2 (its first
   200 are parsed, answered 400 and counted; then the source is banned and dropped before
   parsing): completed calls/s, and the ratio to the baseline (target ≥ 0.95);
3. **idle** and 4. **flood only** — sip_core's CPU (``/proc/<pid>/stat``) with no traffic, then
   under the flood alone: (flood - idle) CPU / datagrams sent = CPU per dropped packet.

    .venv/bin/python bench/flood_bench.py                 # 100 cps, 20,000 junk/s, 10 s
    .venv/bin/python bench/flood_bench.py --rate 200 --flood-rate 20000 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sip_bench import (
    LOADER_CPU,
    SIPP_BUFFER,
    Bench,
    SipCore,
    cpu_seconds,
    free_udp_port,
    parse_stat,
    pin,
    sipp_uas,
)

from libs.bus import Bus, provision
from libs.platform.natsd import NatsServer

HERE = Path(__file__).resolve().parent
FLOODER = "127.0.0.2"


def build_floodsend(workdir: Path) -> Path:
    exe = workdir / "floodsend"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(HERE / "floodsend.c")], check=True)
    return exe


def calls(bench: Bench, target: int, rate: int, seconds: float, name: str) -> dict[str, float]:
    """One bounded sipp UAC run; its final counters and completed calls per second."""
    stat = bench.workdir / f"{name}.csv"
    proc = bench.procs.start(
        [*pin(LOADER_CPU), "sipp", "-sn", "uac", f"127.0.0.1:{target}", "-i", "127.0.0.1",
         "-p", str(free_udp_port()), "-r", str(rate), "-m", str(int(rate * seconds)),
         "-d", "500", "-nostdin", "-buff_size", str(SIPP_BUFFER),
         "-timeout", f"{int(seconds * 3 + 20)}s", "-trace_stat", "-stf", str(stat), "-fd", "1"],
        bench.workdir / f"{name}.log",
    )  # fmt: skip
    proc.wait(seconds * 3 + 30)
    result = parse_stat(stat)
    result["cps"] = result["ok"] / result["elapsed"] if result["elapsed"] else 0.0
    return result


def flood(exe: Path, port: int, rate: int, seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*pin(LOADER_CPU), str(exe), FLOODER, str(port), str(rate), str(seconds)],
        stdout=subprocess.PIPE,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=100, help="legitimate calls per second")
    parser.add_argument("--flood-rate", type=int, default=20_000, help="junk datagrams/s")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="flood-bench-") as tmp,
        NatsServer(store_dir=Path(tmp) / "js", port=0) as nats,
    ):
        workdir = Path(tmp)
        bus = await Bus.connect(nats.url, name="flood-bench")
        await provision(bus.js)
        bench = Bench(workdir=workdir, nats_url=nats.url, bus=bus)
        exe = build_floodsend(workdir)
        try:
            uas_port = free_udp_port()
            sipp_uas(bench, uas_port)
            node = SipCore(bench, uas_port, "uvloop")
            node.wait_ready()

            base = calls(bench, node.port, args.rate, args.seconds, "baseline")
            flooder = flood(exe, node.port, args.flood_rate, args.seconds + 4)
            time.sleep(1.0)  # the flooder is banned within its first 200 datagrams
            under = calls(bench, node.port, args.rate, args.seconds, "flood")
            out, _ = flooder.communicate(timeout=args.seconds + 30)
            flood1 = json.loads(out)

            before = cpu_seconds(node.pid)
            time.sleep(args.seconds)
            idle = cpu_seconds(node.pid) - before
            flooder = flood(exe, node.port, args.flood_rate, args.seconds)
            before = cpu_seconds(node.pid)
            out, _ = flooder.communicate(timeout=args.seconds + 30)
            busy = cpu_seconds(node.pid) - before
            flood2 = json.loads(out)
            node.stop()
        finally:
            bench.procs.stop_all()
            await bus.close()

    ratio = under["cps"] / base["cps"] if base["cps"] else 0.0
    per_packet_us = max(0.0, busy - idle) / flood2["sent"] * 1e6
    print(f"legitimate calls  baseline {base['cps']:.1f}/s (ok {base['ok']:.0f}, failed "
          f"{base['failed']:.0f})  under flood {under['cps']:.1f}/s (ok {under['ok']:.0f}, "
          f"failed {under['failed']:.0f})")  # fmt: skip
    print(f"flood             {flood1['rate']:.0f} junk/s from {FLOODER} during the calls")
    print(f"ratio             {ratio:.3f}  (target >= 0.95: {'PASS' if ratio >= 0.95 else 'FAIL'})")
    print(f"CPU per dropped   {per_packet_us:.2f} us  ({busy:.2f} s under {flood2['sent']} "
          f"datagrams at {flood2['rate']:.0f}/s vs {idle:.2f} s idle)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
