"""Sharded serving against the whole index: the same pages, and what each side costs.

    flock /tmp/tinyseek-bench.lock python benchmarks/bench_shards.py --index DIR \
        [--queries ../shared/data/homedepot/queries.jsonl] [--shards 2] [--n 200] [--ray]

1. `tinyseek shard DIR --shards N` (subprocess): wall time, size of each part.
2. In process: the whole index and the shard set (`ShardedDense`, parts in this process)
   answer --n queries in bm25, dense and hybrid modes: pages compared (ids, scores, totals),
   and each side's latency.
3. With --ray: a plain `tinyseek serve DIR` (the whole index) answers the same queries over
   HTTP; then a `ray start --head` cluster on loopback (--cpus), `tinyseek serve DIR --ray
   --shards` on it, the same queries over HTTP compared with the whole index's HTTP answers
   (the service and the library differ in the last bits of a dense score); the peak RSS of
   every Ray worker process (app and part replicas) is printed.
Identity holds by construction for exact (flat) parts; for HNSW the overlap of the top 10 is
printed instead (each part's graph is its own).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from loadtest import free_port, start_server, wait_ready

from tinyseek.search.engine import Engine
from tinyseek.search.shards import ShardedDense

REPO = Path(__file__).resolve().parent.parent
DEFAULT_QUERIES = (
    Path(os.environ.get("TINYSEEK_HOMEDEPOT", REPO.parent / "shared/data/homedepot"))
    / "queries.jsonl"
)
MODES = ("bm25", "dense", "hybrid")


def load_queries(path: Path, n: int) -> list[str]:
    texts = [json.loads(line)["text"] for line in path.open(encoding="utf-8") if line.strip()]
    return texts[:n]


def page(engine: Engine, query: str, mode: str) -> tuple[int, list[tuple[str, float]]]:
    result = engine.search_page(query, k=10, mode=mode)
    return result.total, [(h.doc_id, round(h.score, 9)) for h in result.hits]


def compare(
    name: str, answers: dict[tuple[str, str], Any], reference: dict[tuple[str, str], Any]
) -> None:
    for mode in MODES:
        keys = [key for key in reference if key[1] == mode]
        same = sum(answers[key] == reference[key] for key in keys)
        overlap = np.mean(
            [
                len({i for i, _ in answers[key][1]} & {i for i, _ in reference[key][1]})
                / len(reference[key][1])
                if reference[key][1]
                else float(not answers[key][1])
                for key in keys
            ]
        )
        identical = f"{same}/{len(keys)} pages identical"
        print(f"  {name} {mode:6s}: {identical}, top-10 overlap {overlap:.4f}")


def timed(engine: Engine, queries: list[str]) -> tuple[dict[tuple[str, str], Any], str]:
    answers: dict[tuple[str, str], Any] = {}
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for query in queries:
        for mode in MODES:
            started = time.perf_counter()
            answers[(query, mode)] = page(engine, query, mode)
            times[mode].append((time.perf_counter() - started) * 1000)
    p50 = ", ".join(f"{mode} {np.percentile(times[mode], 50):.2f} ms" for mode in MODES)
    return answers, p50


def http_page(base: str, query: str, mode: str) -> tuple[int, list[tuple[str, float]]]:
    url = f"{base}/search?q={urllib.parse.quote(query)}&k=10&mode={mode}"
    with urllib.request.urlopen(url, timeout=30) as response:
        body = json.loads(response.read())
    return body["total"], [(h["id"], round(h["score"], 9)) for h in body["hits"]]


def worker_rss() -> dict[str, float]:
    """Peak RSS (MB) of each Ray worker process, by its process title."""
    out: dict[str, float] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
            title = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if title.startswith("ray::") and "VmHWM" in fields:
            name = title.split()[0]
            out[f"{name} ({status.parent.name})"] = int(fields["VmHWM"].split()[0]) / 1024
    return out


def over_http(base: str, keys: list[tuple[str, str]]) -> tuple[dict[tuple[str, str], Any], str]:
    answers: dict[tuple[str, str], Any] = {}
    times = []
    for query, mode in keys:
        began = time.perf_counter()
        answers[(query, mode)] = http_page(base, query, mode)
        times.append((time.perf_counter() - began) * 1000)
    p50, p99 = np.percentile(times, [50, 99])
    return answers, f"HTTP p50 {p50:.2f} ms, p99 {p99:.2f}"


def whole_over_http(index: Path, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    port = free_port()
    server = start_server(index, port, {})
    try:
        wait_ready(f"http://127.0.0.1:{port}", server, 600)
        answers, latency = over_http(f"http://127.0.0.1:{port}", keys)
    finally:
        server.kill()
        server.wait()
    print(f"\n== tinyseek serve (the whole index): {latency}")
    return answers


def on_ray(opts: argparse.Namespace, shards: Path, keys: list[tuple[str, str]]) -> None:
    reference = whole_over_http(opts.index, keys)
    ray_bin = str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    env["HF_HUB_OFFLINE"] = "1"
    head_port, http_port = free_port(), free_port()
    head = subprocess.Popen(
        [
            ray_bin, "start", "--head", "--block", f"--port={head_port}",
            "--node-ip-address=127.0.0.1", f"--num-cpus={opts.cpus}",
            "--include-dashboard=false", "--disable-usage-stats",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env,
    )  # fmt: skip
    driver = None
    try:
        time.sleep(5)
        driver = subprocess.Popen(
            [
                sys.executable, "-m", "tinyseek.cli", "serve", str(opts.index), "--ray",
                f"127.0.0.1:{head_port}", "--shards", str(shards), "--replicas",
                str(opts.replicas), "--port", str(http_port), "--no-access-log",
            ],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{http_port}"
        started = time.perf_counter()
        wait_ready(base, driver, 600)
        print(f"\n== Ray Serve, {opts.replicas} app replica(s) + 1 replica per part: ready in "
              f"{time.perf_counter() - started:.1f} s at {base}")  # fmt: skip
        answers, latency = over_http(base, keys)
        print(f"  {latency}")
        compare("ray http vs serve", answers, reference)
        for name, mb in sorted(worker_rss().items()):
            print(f"  peak RSS {mb:7.0f} MB  {name}")
        if opts.hold:
            print(f"  holding for {opts.hold:.0f} s (e.g. for benchmarks/loadtest.py --url {base})")
            time.sleep(opts.hold)
    finally:
        for proc in (driver, head):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--n", type=int, default=200, help="queries (each in three modes)")
    parser.add_argument("--ray", action="store_true", help="also through Ray Serve over HTTP")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the Ray head")
    parser.add_argument("--replicas", type=int, default=1, help="app replicas on Ray Serve")
    parser.add_argument("--hold", type=float, default=0.0, help="keep Ray Serve up this long")
    opts = parser.parse_args()
    queries = load_queries(opts.queries, opts.n)
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as work:
        shards = Path(work) / "shards"
        started = time.perf_counter()
        cut = ["shard", str(opts.index), "--shards", str(opts.shards), "--out", str(shards)]
        done = subprocess.run(
            [sys.executable, "-m", "tinyseek.cli", *cut],
            capture_output=True,
            text=True,
            check=True,
        )
        print(f"== tinyseek shard: {time.perf_counter() - started:.1f} s; {done.stdout.strip()}")
        whole = Engine.open(opts.index, threads=1)
        sharded = Engine.open(opts.index, threads=1, sharded=ShardedDense.local(shards))
        for engine in (whole, sharded):
            for query in queries[:20]:
                engine.search(query)  # warm up
        reference, whole_p50 = timed(whole, queries)
        answers, sharded_p50 = timed(sharded, queries)
        print(f"\n== in process, {len(queries)} queries x 3 modes ({whole.generation.dense.kind})")
        print(f"  whole index p50: {whole_p50}")
        print(f"  {opts.shards} shards  p50: {sharded_p50}")
        compare("in process", answers, reference)
        if opts.ray:
            on_ray(opts, shards, list(reference))
    return 0


if __name__ == "__main__":
    sys.exit(main())
