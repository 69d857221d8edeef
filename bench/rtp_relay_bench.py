#!/usr/bin/env python3
"""Packets per second one rtp_relay process forwards on one core, statistics on.

    udpload (core 0)  A --RTP--> relay leg a ... relay leg b --RTP--> B   (and B -> A)
                      one socket plays every caller (A), one every callee (B)

The relay is the real service (``python -m services.rtp_relay``, pinned to core 1 with
``taskset``), driven over a real nats-server: the sessions are created with ``offer``/``answer``
requests exactly as sip_core would, so every packet goes through latching and the per-stream
RFC 3550 statistics. ``bench/udpload.c`` (compiled with gcc into a temporary folder) sends
172-byte G.711-shaped RTP packets round-robin over 2 x FLOWS streams (1,000 calls, both
directions: 50 packets/s per stream is 100,000 packets/s) and receives them back, on core 0.

Each mode climbs its rate steps (5 s each) and stops at the first failing step:

    direct    the load tool's sockets talk to each other (socket-to-socket ceiling)
    uvloop    the relay on uvloop (its default)
    asyncio   the relay on the standard event loop

A step passes with loss < 0.1 %, an achieved send rate >= 98 % of the target, and at most 20 ms
of traffic still in flight when sending stops (the criteria of ../shared/peerbench, whose
figures are the comparison). The relay's own statistics (loss counted from sequence numbers,
jitter) are queried over NATS after each step and printed beside the load tool's.

    .venv/bin/python bench/rtp_relay_bench.py                       # all three modes
    .venv/bin/python bench/rtp_relay_bench.py --modes direct,uvloop --rates uvloop=80000,100000

Bounded: every step is SECONDS long, the sweep stops itself after --max-minutes; traffic goes to
127.0.0.1 only; every process started is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from libs.bus import Bus, provision  # noqa: E402
from libs.bus.media import (  # noqa: E402
    AnswerMedia,
    OfferMedia,
    PeerMedia,
    QueryMedia,
    RelayStatus,
    RelayStatusRequested,
    relay_subject,
    request_media,
)
from libs.platform.natsd import NatsServer, free_port  # noqa: E402

HERE = Path(__file__).resolve().parent
LOADER_CPU, RELAY_CPU = 0, 1
SIZE = 172
MAX_LOSS_PCT = 0.1
MIN_SEND_RATIO = 0.98
MAX_BACKLOG_MS = 20.0
FLOWS = 1000  # --flows
PORT_MIN = 34000  # away from the embedded platform's 20000-29999
DEFAULT_RATES = {
    "direct": [100_000, 150_000, 200_000],
    "uvloop": [60_000, 80_000, 100_000, 120_000, 140_000],
    "asyncio": [20_000, 30_000, 40_000],
}
PEERS = {  # ../shared/peerbench/RESULTS.md, 1000 flows, one core, max passing pps
    "direct": 200_000,
    "uvloop": 120_000,  # plain no-parsing uvloop relay (140k in 2/3 runs)
    "asyncio": 30_000,
}
Result = dict[str, Any]  # one rate step's figures
CLK_TCK = os.sysconf("SC_CLK_TCK")
PINNED = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def core_busy_seconds(cpu: int) -> float:
    """Busy time of one core (every process, kernel included) from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, line.split()[1:9])
            return (user + nice + system + irq + softirq + steal) / CLK_TCK
    return 0.0


def free_udp_port() -> int:
    """A free UDP port outside the relay's range (the relay would take it first)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not PORT_MIN <= port <= PORT_MIN + 4 * FLOWS + 400:
            return port


def pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if PINNED else []


def build_udpload(workdir: Path) -> Path:
    exe = workdir / "udpload"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(HERE / "udpload.c")], check=True)
    return exe


def run_load(exe: Path, rate: int, seconds: float, src: tuple[int, int], ports: Path) -> Result:
    out = subprocess.run(
        [*pin(LOADER_CPU), str(exe), str(rate), str(seconds), str(SIZE), str(src[0]),
         str(src[1]), str(ports), "1000"],
        capture_output=True, text=True, timeout=seconds * 3 + 30, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"udpload failed: {out.stderr.strip()}")
    result: Result = json.loads(out.stdout.strip().splitlines()[-1])
    return result


class Relay:
    """One ``python -m services.rtp_relay`` process on the relay core, stopped by its PID."""

    def __init__(self, loop: str, nats_url: str, flows: int, workdir: Path) -> None:
        self.node_id = f"bench-relay-{loop}"
        env = {
            **os.environ,
            "TANDEM_ENVIRONMENT": "development",
            "TANDEM_NODE_ID": self.node_id,
            "TANDEM_ZONE": "bench",
            "TANDEM_LOG_LEVEL": "WARNING",
            "TANDEM_NATS__SERVERS": json.dumps([nats_url]),
            "TANDEM_HTTP__PORT": str(free_port()),
            "TANDEM_MEDIA__HOST": "127.0.0.1",
            "TANDEM_MEDIA__PORT_MIN": str(PORT_MIN),
            "TANDEM_MEDIA__PORT_MAX": str(PORT_MIN + 4 * flows + 400),
            "TANDEM_MEDIA__TIMEOUT": "3600",
            "TANDEM_MEDIA__EVENT_LOOP": loop,
        }
        self.log_path = workdir / f"relay-{loop}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [*pin(RELAY_CPU), sys.executable, "-m", "services.rtp_relay"],
            cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


async def wait_ready(bus: Bus, node_id: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            await bus.request(
                relay_subject(node_id, "status"), RelayStatusRequested(), RelayStatus, timeout=0.5
            )
            return
        except Exception:  # not up yet
            await asyncio.sleep(0.2)
    raise RuntimeError(f"relay {node_id} did not answer within the start-up time")


async def create_sessions(
    bus: Bus, node_id: str, flows: int, src: tuple[int, int]
) -> list[tuple[int, int]]:
    """offer/answer ``flows`` calls: caller at 127.0.0.1:src[0], callee at 127.0.0.1:src[1]."""
    caller = PeerMedia(address="127.0.0.1", port=src[0])
    callee = PeerMedia(address="127.0.0.1", port=src[1])

    async def one(i: int) -> tuple[int, int]:
        call_id = f"bench-{i}"
        offered = await request_media(
            bus, node_id, OfferMedia(call_id=call_id, peer=caller), timeout=5
        )
        await request_media(bus, node_id, AnswerMedia(call_id=call_id, peer=callee), timeout=5)
        return offered.a.rtp_port, offered.b.rtp_port

    ports: list[tuple[int, int]] = []
    for start in range(0, flows, 100):
        ports += await asyncio.gather(*(one(i) for i in range(start, min(flows, start + 100))))
    return ports


async def relay_totals(bus: Bus, node_id: str, flows: int) -> dict[str, float]:
    """Sum of the relay's own per-stream figures over every session (both directions)."""

    async def one(i: int) -> tuple[int, int, list[float]]:
        reply = await request_media(bus, node_id, QueryMedia(call_id=f"bench-{i}"), timeout=5)
        a, b = reply.stats.a, reply.stats.b
        return a.packets + b.packets, a.lost + b.lost, [a.jitter_ms, b.jitter_ms]

    packets = lost = 0
    jitters: list[float] = []
    for start in range(0, flows, 200):
        for p, lo, j in await asyncio.gather(
            *(one(i) for i in range(start, min(flows, start + 200)))
        ):
            packets, lost = packets + p, lost + lo
            jitters += j
    return {"packets": packets, "lost": lost, "jitter_ms": statistics.median(jitters)}


def passed(result: Result, rate: int) -> bool:
    return bool(
        result["loss_pct"] < MAX_LOSS_PCT
        and result["send_rate"] >= MIN_SEND_RATIO * rate
        and result["backlog_ms"] <= MAX_BACKLOG_MS
    )


async def one_run(
    mode: str,
    rate: int,
    exe: Path,
    seconds: float,
    src: tuple[int, int],
    ports_file: Path,
    relay: Relay | None,
    bus: Bus | None,
) -> Result:
    """One step of ``seconds`` at ``rate``, with the relay's CPU and its own statistics."""
    before = await relay_totals(bus, relay.node_id, FLOWS) if relay and bus else None
    cpu0, t0 = (cpu_seconds(relay.proc.pid) if relay else 0.0), time.monotonic()
    busy0 = core_busy_seconds(RELAY_CPU)
    result = run_load(exe, rate, seconds, src, ports_file)
    wall = time.monotonic() - t0
    busy = 100 * (core_busy_seconds(RELAY_CPU) - busy0) / wall
    result.update(mode=mode, rate=rate, passed=passed(result, rate))
    if relay is not None and bus is not None and before is not None:
        if relay.proc.poll() is not None:
            raise RuntimeError(f"relay died; see {relay.log_path}")
        cpu = cpu_seconds(relay.proc.pid) - cpu0
        result["relay_cpu_pct"] = round(100 * cpu / wall)
        # Other processes on the relay's core (a shared machine): a step they slowed down
        # says so here rather than passing for the relay's own limit.
        result["others_on_relay_core_pct"] = max(0, round(busy - result["relay_cpu_pct"]))
        await asyncio.sleep(0.5)  # let a backlog drain before reading the counters
        after = await relay_totals(bus, relay.node_id, FLOWS)
        counted = after["packets"] - before["packets"]
        lost = after["lost"] - before["lost"]
        result["relay_packets"] = counted
        # CPU time per relayed packet: unlike pass/fail, not skewed by other processes
        # preempting the relay (1e6 / this = packets per second of a core of its own)
        result["relay_us_per_packet"] = round(1e6 * cpu / max(1, counted), 2)
        result["relay_loss_pct"] = round(100 * lost / max(1, counted + lost), 4)
        result["relay_jitter_ms"] = round(after["jitter_ms"], 3)
    return result


def median_run(runs: list[Result]) -> Result:
    """The median of each figure over the runs; a step passes when most of its runs pass."""
    merged: Result = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            merged[key] = statistics.median(r[key] for r in runs)
    merged["passed"] = sum(r["passed"] for r in runs) * 2 > len(runs)
    merged["runs"] = f"{sum(r['passed'] for r in runs)}/{len(runs)}"
    return merged


async def sweep(
    mode: str,
    rates: list[int],
    *,
    exe: Path,
    nats_url: str | None,
    flows: int,
    seconds: float,
    workdir: Path,
    deadline: float,
    repeat: int,
) -> list[Result]:
    src = (free_udp_port(), free_udp_port())
    ports_file = workdir / f"ports-{mode}.txt"
    relay: Relay | None = None
    bus: Bus | None = None
    results: list[Result] = []
    try:
        if mode == "direct":
            pairs = [(src[1], src[0])] * flows
        else:
            assert nats_url is not None
            bus = await Bus.connect(nats_url, name="rtp-bench", request_timeout=5.0)
            relay = Relay(mode, nats_url, flows, workdir)
            await wait_ready(bus, relay.node_id, time.monotonic() + 30)
            t0 = time.monotonic()
            pairs = await create_sessions(bus, relay.node_id, flows, src)
            log(f"{mode}: {flows} sessions created in {time.monotonic() - t0:.1f} s")
        ports_file.write_text("".join(f"{a} {b}\n" for a, b in pairs))
        run_load(exe, 2000, 1.0, src, ports_file)  # warm-up: latches every leg
        for rate in rates:
            if time.monotonic() > deadline:
                log("time cap reached: stopping the sweep")
                break
            runs = []
            for _ in range(repeat):
                await asyncio.sleep(1.0)
                runs.append(await one_run(mode, rate, exe, seconds, src, ports_file, relay, bus))
                log(f"  {row(runs[-1])}")
            result = median_run(runs)
            results.append(result)
            print(row(result), flush=True)
            if not result["passed"]:
                break
    finally:
        if bus is not None:
            await bus.close()
        if relay is not None:
            relay.stop()
    return results


HEADER = (
    f"{'mode':8} {'target':>8} {'sent/s':>8} {'loss%':>7} {'backlog':>8} {'p50us':>6} "
    f"{'p99us':>7} {'relayCPU':>8} {'others':>6} {'us/pkt':>6} {'relay: pkts':>11} "
    f"{'loss%':>7} {'jitter':>7}  pass"
)


def row(r: Result) -> str:
    relay = (
        f"{r['relay_cpu_pct']:>7}% {r['others_on_relay_core_pct']:>5}% "
        f"{r['relay_us_per_packet']:>6.2f} {r['relay_packets']:>11} {r['relay_loss_pct']:>7.3f} "
        f"{r['relay_jitter_ms']:>5.2f}ms"
        if "relay_cpu_pct" in r
        else f"{'-':>8} {'-':>6} {'-':>6} {'-':>11} {'-':>7} {'-':>7}"
    )
    return (
        f"{r['mode']:8} {r['rate']:>8} {r['send_rate']:>8.0f} {r['loss_pct']:>7.3f} "
        f"{r['backlog_ms']:>6.1f}ms {r['lat_p50_us']:>6.0f} {r['lat_p99_us']:>7.0f} {relay}  "
        f"{'yes' if r['passed'] else 'NO'} {r.get('runs', '')}"
    )


def best(results: list[Result]) -> Result | None:
    ok = [r for r in results if r["passed"]]
    return max(ok, key=lambda r: r["rate"]) if ok else None


def rates_for(mode: str, specs: list[str]) -> list[int]:
    """``--rates 1,2`` (every mode) or ``--rates uvloop=1,2``; the defaults otherwise."""
    chosen = DEFAULT_RATES[mode]
    for spec in specs:
        target, _, values = spec.rpartition("=")
        if target in ("", mode):
            chosen = [int(v) for v in values.split(",")]
    return chosen


async def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--modes", default="direct,uvloop,asyncio")
    ap.add_argument(
        "--rates",
        action="append",
        default=[],
        help="pps steps, comma-separated, for every mode or as MODE=R1,R2 (repeatable)",
    )
    ap.add_argument("--flows", type=int, default=1000, help="concurrent calls (2 streams each)")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each rate step")
    ap.add_argument("--repeat", type=int, default=1, help="runs per step (median, majority)")
    ap.add_argument("--max-minutes", type=float, default=10.0)
    ap.add_argument("--json", type=Path, help="also write every step's figures here")
    args = ap.parse_args()
    global FLOWS
    FLOWS = args.flows
    modes = args.modes.split(",")
    if PINNED:
        os.sched_setaffinity(0, {LOADER_CPU})  # keep the driver off the relay's core
    else:
        log("fewer than 2 cores (or no taskset): nothing pinned; figures are not per core")
    deadline = time.monotonic() + 60 * args.max_minutes
    all_results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="rtp-relay-bench-") as tmp:
        workdir = Path(tmp)
        exe = build_udpload(workdir)
        nats: NatsServer | None = None
        try:
            if any(m != "direct" for m in modes):
                nats = NatsServer(store_dir=workdir / "js", port=0, server_name="rtp-bench")
                nats.start()
                if PINNED and nats.pid is not None:
                    os.sched_setaffinity(nats.pid, {LOADER_CPU})
                bus = await Bus.connect(nats.url, name="rtp-bench-setup")
                await provision(bus.js)  # the presence bucket the relay heartbeats into
                await bus.close()
            print(HEADER, flush=True)
            for mode in modes:
                rates = rates_for(mode, args.rates)
                all_results += await sweep(
                    mode, rates, exe=exe, nats_url=nats.url if nats else None,
                    flows=args.flows, seconds=args.seconds, workdir=workdir, deadline=deadline,
                    repeat=args.repeat,
                )  # fmt: skip
        finally:
            if nats is not None:
                nats.stop()
    summarize(all_results, modes, args.flows)
    if args.json:
        args.json.write_text(json.dumps(all_results, indent=1))


def summarize(results: list[Result], modes: list[str], flows: int) -> None:
    print()
    print(f"Highest passing rate, {flows} calls x 2 directions, {SIZE}-byte packets:")
    tops = {m: best([r for r in results if r["mode"] == m]) for m in modes}
    for mode, top in tops.items():
        if top is None:
            print(f"  {mode:8} none of the steps passed")
            continue
        cpu = f", relay CPU {top['relay_cpu_pct']}%" if "relay_cpu_pct" in top else ""
        print(
            f"  {mode:8} {top['rate']:>8,} pps  (p50 {top['lat_p50_us']:.0f} us, "
            f"p99 {top['lat_p99_us']:.0f} us{cpu}; peerbench figure {PEERS[mode]:,})"
        )
    for mode in ("uvloop", "asyncio"):
        costs = [
            r["relay_us_per_packet"]
            for r in results
            if r["mode"] == mode and r["passed"] and r.get("relay_us_per_packet")
        ]
        if costs:
            cost = min(costs)  # the busiest passing step amortises the loop's wake-ups best
            print(
                f"  {mode} relay CPU per packet: {cost:.2f} us -> about {1e6 / cost:,.0f} "
                "pps on a core of its own"
            )
    direct = tops.get("direct")
    for mode in ("uvloop", "asyncio"):
        top = tops.get(mode)
        if top and direct:
            print(f"  {mode} / socket-to-socket ceiling: {top['rate'] / direct['rate']:.2f}")
    fast, slow = tops.get("uvloop"), tops.get("asyncio")
    if fast and slow:
        print(f"  uvloop / asyncio: {fast['rate'] / slow['rate']:.1f}x")
    if direct:
        for mode in ("uvloop", "asyncio"):
            same = [
                r for r in results if r["mode"] == mode and r["passed"] and r["rate"] <= 100_000
            ]
            if same:
                r = max(same, key=lambda x: x["rate"])
                print(
                    f"  {mode} latency at {r['rate']:,} pps: p50 {r['lat_p50_us']:.0f} us, "
                    f"p99 {r['lat_p99_us']:.0f} us (direct at {direct['rate']:,}: "
                    f"p50 {direct['lat_p50_us']:.0f} us, p99 {direct['lat_p99_us']:.0f} us)"
                )


if __name__ == "__main__":
    asyncio.run(main())
