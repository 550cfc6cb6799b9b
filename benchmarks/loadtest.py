"""Load test for `tinyseek serve`, over loopback only, bounded in requests and time.

Starts a server on a free port (`--index DIR`) or targets a running one (`--url`),
then runs:

- a sequential client: one keep-alive connection, one request at a time;
- an open loop (`--rate R --duration S`): requests are *scheduled* at a constant
  rate whatever the server does, and latency counts from the scheduled time, so a
  slow server cannot hide its queueing (no coordinated omission);
- optionally a closed loop (`--concurrency C`): C clients back to back, for peak
  throughput;
- optionally a capacity search (`--capacity`): open loops at rising rates (`--capacity-rates`,
  `--capacity-duration` s each), stopping two rates after one whose p99 passes
  `--p99-budget` ms (10) or where a request fails. The server's CPU time (from /proc) over
  each step gives the cores it used, so the highest passing rate becomes *sustained
  requests/s per core at the p99 budget*, and with
  `--vcpu-hour` (USD per vCPU-hour; default 0.0446, an on-demand compute-optimised x86
  vCPU, 2026 list price) the *cost per million queries* at that load:
  1e6 / (requests per core-second) / 3600 x price.

It prints p50/p95/p99/max latency, throughput, errors, the server's own search
time (`took_ms`), and the server's peak RSS when it knows the process.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams, so the
load generator costs little CPU next to the server on a small machine.

    python benchmarks/loadtest.py --index /tmp/hd-index --rate 200 --duration 30
    python benchmarks/loadtest.py --index /tmp/hd-index --facets   # as the page asks
    python benchmarks/loadtest.py --url http://127.0.0.1:8000 --queries queries.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_QUERIES = REPO / "sample_data" / "queries.jsonl"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_DURATION = 300.0
MAX_REQUESTS = 200_000
MAX_CONNECTIONS = 256
IDLE_SECONDS = 3.0  # below uvicorn's 5 s keep-alive timeout
TOOK_MS = re.compile(rb'"took_ms":([0-9.eE+-]+)')


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds
    server_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    late_starts: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def report(self) -> str:
        done = len(self.latencies)
        total_errors = sum(self.errors.values())
        lines = [f"== {self.name}"]
        if done:
            ms = sorted(x * 1000 for x in self.latencies)
            lines.append(
                f"   requests {done + total_errors}  ok {done}  errors {total_errors}"
                f"  throughput {done / self.wall:.1f} req/s  wall {self.wall:.1f} s"
            )
            lines.append(
                f"   latency ms  p50 {pct(ms, 50):.2f}  p95 {pct(ms, 95):.2f}  "
                f"p99 {pct(ms, 99):.2f}  max {ms[-1]:.2f}  mean {statistics.fmean(ms):.2f}"
            )
        else:
            lines.append(f"   no successful requests; errors {total_errors}")
        if self.server_ms:
            sm = sorted(self.server_ms)
            lines.append(
                f"   server took_ms  p50 {pct(sm, 50):.2f}  p95 {pct(sm, 95):.2f}  "
                f"p99 {pct(sm, 99):.2f}"
            )
        if self.errors:
            lines.append(f"   error kinds: {self.errors}")
        if self.late_starts:
            lines.append(f"   scheduler fell behind on {self.late_starts} sends (client-bound)")
        return "\n".join(lines)


def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Connection:
    """One HTTP/1.1 keep-alive connection; responses must carry Content-Length."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def get(self, target: str) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None and self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError("response without Content-Length")
        body = await self.reader.readexactly(length)
        self.last_used = time.perf_counter()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def load_queries(path: Path) -> list[str]:
    queries: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            if line.startswith("{"):
                row = json.loads(line)
                text = row.get("text") or row.get("q") or row.get("query")
                if text:
                    queries.append(str(text))
            else:
                queries.append(line)
    if not queries:
        raise SystemExit(f"no queries in {path}")
    return queries


def targets(queries: list[str], k: int, mode: str, extra: str = "") -> Iterator[str]:
    i = 0
    while True:
        q = urllib.parse.quote_plus(queries[i % len(queries)])
        yield f"/search?q={q}&k={k}&mode={mode}{extra}"
        i += 1


FACETS_AND_HIGHLIGHTS = "&facets=all&highlight=true"
"""What the search page asks for: every facet counted, the query's words marked."""


async def one(conn: Connection, target: str, phase: Phase, started: float) -> bool:
    """Send one request; record latency from `started`. False when the connection broke.

    Like any HTTP client, a GET that fails on a reused keep-alive connection before a
    byte of response arrived (the server closed it while idle) is retried once on a
    fresh connection.
    """
    try:
        try:
            status, body = await conn.get(target)
        except (OSError, asyncio.IncompleteReadError) as exc:
            reused = conn.last_used > 0
            if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
            conn.close()
            conn.last_used = 0.0
            status, body = await conn.get(target)
    except (OSError, asyncio.IncompleteReadError, RuntimeError, ValueError) as exc:
        phase.error(type(exc).__name__)
        conn.close()
        return False
    if status != 200:
        phase.error(f"HTTP {status}")
        return True
    phase.latencies.append(time.perf_counter() - started)
    match = TOOK_MS.search(body)
    if match:
        phase.server_ms.append(float(match.group(1)))
    return True


async def sequential(host: str, port: int, urls: Iterator[str], n: int, limit: float) -> Phase:
    phase = Phase(f"sequential client: {n} requests, 1 connection")
    conn = Connection(host, port)
    begin = time.perf_counter()
    for _ in range(n):
        if time.perf_counter() - begin > limit:
            break
        now = time.perf_counter()
        await one(conn, next(urls), phase, now)
    phase.wall = time.perf_counter() - begin
    conn.close()
    return phase


async def open_loop(
    host: str, port: int, urls: Iterator[str], rate: float, duration: float, timeout: float
) -> Phase:
    total = int(rate * duration)
    phase = Phase(f"open loop: {rate:g} req/s for {duration:g} s ({total} requests)")
    idle: list[Connection] = []
    open_count = 0
    slots = asyncio.Semaphore(MAX_CONNECTIONS)
    tasks: list[asyncio.Task[None]] = []

    async def fire(target: str, scheduled: float) -> None:
        nonlocal open_count
        async with slots:
            while idle and time.perf_counter() - idle[-1].last_used > IDLE_SECONDS:
                idle.pop().close()  # the server's keep-alive timeout may have closed it
            if idle:
                conn = idle.pop()
            else:
                conn = Connection(host, port)
                open_count += 1
            try:
                ok = await asyncio.wait_for(one(conn, target, phase, scheduled), timeout)
            except asyncio.TimeoutError:
                phase.error("timeout")
                conn.close()
                return
            if ok:
                idle.append(conn)

    begin = time.perf_counter()
    for i in range(total):
        scheduled = begin + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            phase.late_starts += 1
        tasks.append(asyncio.create_task(fire(next(urls), scheduled)))
    await asyncio.gather(*tasks)
    phase.wall = time.perf_counter() - begin
    for conn in idle:
        conn.close()
    phase.name += f", {open_count} connections opened"
    return phase


async def closed_loop(
    host: str, port: int, urls: Iterator[str], concurrency: int, duration: float
) -> Phase:
    phase = Phase(f"closed loop: {concurrency} concurrent clients for {duration:g} s")
    stop = time.perf_counter() + duration

    async def client() -> None:
        conn = Connection(host, port)
        while time.perf_counter() < stop:
            await one(conn, next(urls), phase, time.perf_counter())
        conn.close()

    begin = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    phase.wall = time.perf_counter() - begin
    return phase


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(index: Path, port: int, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    tinyseek = Path(sys.executable).with_name("tinyseek")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **extra_env}
    cmd = [str(tinyseek), "serve", str(index), "--port", str(port), "--no-access-log"]
    print(f"starting: {' '.join(cmd)}  env {extra_env}", flush=True)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(
    base: str, proc: subprocess.Popen[bytes] | None, timeout: float
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise SystemExit(f"server exited with {proc.returncode}:\n{err[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                ready: dict[str, object] = json.loads(response.read())
                return ready
        except OSError:
            time.sleep(0.25)
    raise SystemExit(f"{base} was not ready within {timeout:.0f} s")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB from /proc."""
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


async def capacity(host: str, port: int, urls: Iterator[str], args: argparse.Namespace) -> int:
    """Open loops at rising rates; the best passing one gives req/s per core and the cost."""
    if not args.pid:
        raise SystemExit("--capacity needs the server's pid (--index, or --url with --pid)")
    print(f"\n== capacity: p99 <= {args.p99_budget:g} ms, {args.capacity_duration:g} s per rate")
    print("   rate req/s | p99 ms | errors | server cores | req/s per core")
    best: tuple[float, float, float] | None = None
    misses = 0
    for rate in args.capacity_rates:
        before = cpu_seconds(args.pid)
        phase = await open_loop(host, port, urls, rate, args.capacity_duration, args.timeout)
        cores = (cpu_seconds(args.pid) - before) / phase.wall
        p99 = pct(sorted(phase.latencies), 99) * 1000
        errors = sum(phase.errors.values())
        per_core = rate / cores if cores > 0 else float("nan")
        print(f"   {rate:11g} | {p99:6.2f} | {errors:6d} | {cores:12.2f} | {per_core:.0f}")
        if errors or p99 > args.p99_budget:
            misses += 1  # one slow step can be noise; two in a row is the limit
            if misses == 2:
                break
            continue
        misses = 0
        best = (rate, cores, per_core)
    if best is None:
        print("   no rate met the budget")
        return 1
    rate, cores, per_core = best
    cost = 1e6 / per_core / 3600 * args.vcpu_hour
    print(
        f"   sustained: {rate:g} req/s at p99 <= {args.p99_budget:g} ms on {cores:.2f} cores "
        f"= {per_core:.0f} req/s per core"
    )
    print(
        f"   cost: ${cost:.3f} per million queries (${cost / 1e6:.2e} per query) at "
        f"${args.vcpu_hour:g} per vCPU-hour; the seeds' claim: $0.003 per query "
        f"($3,000 per million)"
    )
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--index", type=Path, help="start `tinyseek serve INDEX` on a free port")
    where.add_argument("--url", help="target a running server (loopback only)")
    parser.add_argument("--pid", type=int, help="server pid, for RSS with --url")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES, help="jsonl or text")
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "bm25", "dense"])
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument(
        "--facets",
        action="store_true",
        help="request every facet and highlights, as the search page does",
    )
    parser.add_argument("--warmup", type=int, default=50, help="requests before measuring")
    parser.add_argument("--sequential", type=int, default=1000, help="0 to skip")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop req/s; 0 to skip")
    parser.add_argument("--duration", type=float, default=30.0, help="open-loop seconds")
    parser.add_argument("--concurrency", type=int, default=0, help="closed-loop clients; 0 skip")
    parser.add_argument("--closed-duration", type=float, default=15.0)
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout (s)")
    parser.add_argument("--capacity", action="store_true", help="find req/s per core at p99")
    parser.add_argument(
        "--capacity-rates",
        type=float,
        nargs="+",
        default=[25, 50, 100, 150, 200, 300, 400, 600, 800],
        help="open-loop rates to try, in order",
    )
    parser.add_argument("--capacity-duration", type=float, default=15.0, help="seconds per rate")
    parser.add_argument("--p99-budget", type=float, default=10.0, help="p99 limit in ms")
    parser.add_argument(
        "--vcpu-hour", type=float, default=0.0446, help="USD per vCPU-hour (default 0.0446)"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment for the started server (default TINYSEEK_CACHE_SIZE=0)",
    )
    args = parser.parse_args(argv)
    if args.duration > MAX_DURATION or args.closed_duration > MAX_DURATION:
        parser.error(f"durations are capped at {MAX_DURATION:.0f} s")
    if args.rate * args.duration > MAX_REQUESTS or args.sequential > MAX_REQUESTS:
        parser.error(f"at most {MAX_REQUESTS} requests per phase")
    return args


async def run(args: argparse.Namespace, host: str, port: int) -> list[Phase]:
    queries = load_queries(args.queries)
    extra = FACETS_AND_HIGHLIGHTS if args.facets else ""
    urls = targets(queries, args.k, args.mode, extra)
    print(
        f"{len(queries)} queries from {args.queries}; mode {args.mode}, k {args.k}"
        + (", facets and highlights" if args.facets else ""),
        flush=True,
    )
    if args.warmup:
        await sequential(host, port, urls, args.warmup, 60)
    phases = []
    if args.sequential:
        before = cpu_seconds(args.pid) if args.pid else 0.0
        phases.append(await sequential(host, port, urls, args.sequential, MAX_DURATION))
        print(phases[-1].report(), flush=True)
        if args.capacity and args.pid:
            cores = (cpu_seconds(args.pid) - before) / phases[-1].wall
            done = len(phases[-1].latencies) / phases[-1].wall
            p99 = pct(sorted(phases[-1].latencies), 99) * 1000
            per_core = done / cores
            cost = 1e6 / per_core / 3600 * args.vcpu_hour
            print(
                f"   sequential: {done:.0f} req/s on {cores:.2f} cores (p99 {p99:.2f} ms) = "
                f"{per_core:.0f} req/s per core: ${cost:.3f} per million queries at "
                f"${args.vcpu_hour:g} per vCPU-hour",
                flush=True,
            )
    if args.rate > 0:
        phases.append(await open_loop(host, port, urls, args.rate, args.duration, args.timeout))
        print(phases[-1].report(), flush=True)
    if args.concurrency > 0:
        phases.append(await closed_loop(host, port, urls, args.concurrency, args.closed_duration))
        print(phases[-1].report(), flush=True)
    if args.capacity:
        await capacity(host, port, urls, args)
    return phases


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    proc = None
    pid = args.pid
    if args.index is not None:
        env = {"TINYSEEK_CACHE_SIZE": "0"}
        for item in args.server_env:
            name, _, value = item.partition("=")
            env[name] = value
        port = free_port()
        host = "127.0.0.1"
        proc = start_server(args.index, port, env)
        pid = args.pid = proc.pid
    else:
        parsed = urllib.parse.urlsplit(args.url)
        host, port = parsed.hostname or "", parsed.port or 80
        if host not in LOOPBACK:
            raise SystemExit(f"refusing to load-test {host}: loopback only")
    base = f"http://{host}:{port}"
    try:
        ready = wait_ready(base, proc, timeout=600)
        print(f"server ready: {ready}", flush=True)
        if pid:
            print(f"server RSS after load: {rss_mb(pid)[0]:.0f} MB", flush=True)
        phases = asyncio.run(run(args, host, port))
        if pid:
            now, peak = rss_mb(pid)
            print(f"server RSS now {now:.0f} MB, peak (VmHWM) {peak:.0f} MB")
        return 1 if any(p.errors for p in phases) else 0
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
