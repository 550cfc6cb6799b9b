"""Scale curve on one machine: synthetic catalogs of growing size, indexed and served.

    flock /tmp/tinyseek-bench.lock python benchmarks/bench_scale.py \
        --sizes 100000 300000 1000000 [--work /tmp/tinyseek-scale] [--dense-index auto]

For each size: a seeded synthetic catalog (`synth_catalog.py`, written once into --work and
reused), then

- `tinyseek index` end to end in a subprocess: wall time, products/s, peak RSS;
- the dense index kind the size chose and its recall@10 against exact search on the
  synthetic query texts (measured by the build itself over the float32 vectors);
- the size on disk of each component of the generation;
- `tinyseek serve` in a subprocess: RSS once ready, HTTP latency p50/p99 of a sequential
  client (hybrid, k=10, query cache off), then p99 and errors of an open loop at
  --rate requests/s (scheduled, no coordinated omission), and the server's peak RSS.

It prints one block per size and a Markdown table at the end. Numbers depend on the machine
and on what else runs on it: run it under the benchmark lock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadtest
import synth_catalog


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_index(catalog: Path, out: Path, queries: Path, dense: str) -> dict[str, Any]:
    tinyseek = Path(sys.executable).with_name("tinyseek")
    cmd = [
        str(tinyseek), "index", str(catalog), "--out", str(out), "--no-progress",
        "--recall-queries", str(queries), "--dense-index", dense,
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    stdout = proc.stdout.read() if proc.stdout else ""
    stderr = proc.stderr.read() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"tinyseek index failed ({code}):\n{stderr[-3000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "stdout": stdout.strip()}


async def serve_phases(
    port: int, queries: list[str], sequential: int, rate: float, duration: float
) -> tuple[loadtest.Phase, loadtest.Phase | None]:
    urls = loadtest.targets(queries, 10, "hybrid")
    await loadtest.sequential("127.0.0.1", port, urls, 50, 60)  # warm up
    seq = await loadtest.sequential("127.0.0.1", port, urls, sequential, 300)
    loaded = None
    if rate > 0:
        loaded = await loadtest.open_loop("127.0.0.1", port, urls, rate, duration, 10.0)
    return seq, loaded


def measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    work: Path = args.work
    catalog = work / f"synth-{size}.jsonl"
    queries_file = work / "synth-queries.jsonl"
    if not queries_file.is_file():
        synth_catalog.write_queries(queries_file, args.num_queries, args.seed)
    if not catalog.is_file():
        started = time.perf_counter()
        synth_catalog.write_catalog(catalog, size, args.seed)
        print(f"  generated {catalog} in {time.perf_counter() - started:.0f} s", flush=True)
    out = work / f"index-{size}"
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    built = run_index(catalog, out, queries_file, args.dense_index)
    gen = out / (out / "CURRENT").read_text().strip()
    manifest = json.loads((gen / "manifest.json").read_text())
    dense = manifest["dense"]
    parts = {p.name: du(p) for p in sorted(gen.iterdir())}
    row: dict[str, Any] = {
        "size": size,
        "products": manifest["doc_count"],
        "index_s": built["seconds"],
        "per_s": manifest["doc_count"] / built["seconds"],
        "index_rss_mb": built["peak_rss_mb"],
        "dense_kind": dense["kind"],
        "recall": dense.get("recall", {}).get("at_10", 1.0),
        "disk_mb": {k: v / 1e6 for k, v in parts.items()},
    }
    print(f"  {built['stdout']}", flush=True)

    port = loadtest.free_port()
    proc = loadtest.start_server(out, port, {"TINYSEEK_CACHE_SIZE": "0"})
    try:
        loadtest.wait_ready(f"http://127.0.0.1:{port}", proc, timeout=900)
        row["serve_ready_rss_mb"] = loadtest.rss_mb(proc.pid)[0]
        queries = loadtest.load_queries(queries_file)
        seq, loaded = asyncio.run(
            serve_phases(port, queries, args.sequential, args.rate, args.duration)
        )
        lat = sorted(seq.latencies)
        row["p50_ms"] = loadtest.pct(lat, 50) * 1e3
        row["p99_ms"] = loadtest.pct(lat, 99) * 1e3
        row["seq_errors"] = sum(seq.errors.values())
        if loaded is not None:
            row["load_p99_ms"] = loadtest.pct(sorted(loaded.latencies), 99) * 1e3
            row["load_errors"] = sum(loaded.errors.values())
        row["serve_peak_rss_mb"] = loadtest.rss_mb(proc.pid)[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return row


def report(row: dict[str, Any], rate: float) -> str:
    disk = ", ".join(f"{k} {v:.1f}" for k, v in row["disk_mb"].items() if v >= 0.05)
    lines = [
        f"== {row['size']:,} products",
        f"  index: {row['index_s']:.0f} s, {row['per_s']:.0f} products/s, "
        f"peak RSS {row['index_rss_mb']:.0f} MB",
        f"  dense: {row['dense_kind']}, recall@10 vs exact {row['recall']:.4f}",
        f"  disk (MB): {disk}; total {sum(row['disk_mb'].values()):.0f} MB",
        f"  serve: RSS ready {row['serve_ready_rss_mb']:.0f} MB, peak "
        f"{row['serve_peak_rss_mb']:.0f} MB; sequential p50 {row['p50_ms']:.2f} ms, "
        f"p99 {row['p99_ms']:.2f} ms ({row['seq_errors']} errors)",
    ]
    if "load_p99_ms" in row:
        lines.append(
            f"  open loop {rate:g} req/s: p99 {row['load_p99_ms']:.1f} ms, "
            f"{row['load_errors']} errors"
        )
    return "\n".join(lines)


def table(rows: list[dict[str, Any]], rate: float) -> str:
    head = (
        "| products | index s | products/s | index peak RSS MB | dense | recall@10 | "
        f"disk MB | serve peak RSS MB | p50 ms | p99 ms | p99 ms at {rate:g}/s |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['products']:,} | {r['index_s']:.0f} | {r['per_s']:.0f} | "
            f"{r['index_rss_mb']:.0f} | {r['dense_kind']} | {r['recall']:.3f} | "
            f"{sum(r['disk_mb'].values()):.0f} | {r['serve_peak_rss_mb']:.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r.get('load_p99_ms', float('nan')):.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/tinyseek-scale"))
    parser.add_argument("--dense-index", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-queries", type=int, default=500)
    parser.add_argument("--sequential", type=int, default=1000, help="sequential requests")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    parser.add_argument("--duration", type=float, default=20.0, help="open-loop seconds")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"cpus {os.cpu_count()}; load average at start {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    for size in args.sizes:
        row = measure(size, args)
        rows.append(row)
        print(report(row, args.rate), flush=True)
        (args.work / f"result-{size}.json").write_text(json.dumps(row, indent=1))
    print(f"\nload average at end {os.getloadavg()[0]:.2f}\n")
    print(table(rows, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
