"""`tinyseek index --ray` against the local path on one catalog (Home Depot by default).

    flock /tmp/tinyseek-bench.lock python benchmarks/bench_ray_index.py \
        [--corpus /work/shared/data/homedepot/corpus.jsonl] [--cpus 2]

1. A local `tinyseek index` (subprocess): wall time and products/s.
2. A `ray start --head` cluster on loopback with --cpus CPUs, then `tinyseek index --ray`
   against it: wall time and products/s, and the ratio to the local path.
3. The same Ray job killed with SIGKILL (the driver) when about half of the blocks are
   recorded, then `--resume`d: products embedded by the resumed run (finished blocks must
   not be embedded again), wall time of both parts.
4. The three generations compared: same ids in the same order, vectors equal to 1e-5,
   same top-10 for --queries queries in bm25, dense and hybrid modes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = (
    Path(os.environ.get("TINYSEEK_HOMEDEPOT", REPO.parent / "shared/data/homedepot"))
    / "corpus.jsonl"
)
MODES = ("bm25", "dense", "hybrid")


def tinyseek(args: list[str], kill_at: float | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "tinyseek.cli", "index", *args]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    if kill_at is not None:
        out = Path(args[args.index("--out") + 1])
        progress = out / ".checkpoint" / "progress.json"
        while proc.poll() is None:
            time.sleep(0.2)
            try:
                state = json.loads(progress.read_text())
            except (OSError, ValueError):
                continue
            total = state.get("expected_rows") or 1
            if sum(state["shards"]) >= kill_at * total:
                proc.send_signal(signal.SIGKILL)
                killed = sum(state["shards"])
                break
    stdout, stderr = proc.communicate()
    return {
        "seconds": time.perf_counter() - started,
        "code": proc.returncode,
        "stdout": stdout.strip(),
        "stderr": stderr.strip().splitlines()[-3:],
        "killed_with": killed,
    }


def snapshot(index_dir: Path, queries: list[str]) -> tuple[list[str], np.ndarray, list[Any]]:
    from tinyseek.search.engine import Engine

    engine = Engine.open(index_dir)
    gen = engine.generation
    vectors = gen.dense.vectors(range(len(gen.dense)))
    tops = [[h.doc_id for h in engine.search(q, k=10, mode=m)] for q in queries for m in MODES]
    return [str(i) for i in gen.ordinal_ids], vectors, tops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/tinyseek-bench-ray"))
    opts = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    subprocess.run(["rm", "-rf", str(opts.work)], check=True)
    opts.work.mkdir(parents=True)
    with opts.corpus.with_name("queries.jsonl").open() as fh:
        queries = [json.loads(line)["text"] for line, _ in zip(fh, range(opts.queries))]
    print(f"corpus {opts.corpus}; cpus {os.cpu_count()}; load {os.getloadavg()[0]:.2f}")

    local = tinyseek([str(opts.corpus), "--out", str(opts.work / "local"), "--no-progress"])
    products = int(local["stdout"].split(": ")[1].split()[0])
    print(f"\n== local: {local['seconds']:.1f} s, {products / local['seconds']:.0f} products/s")
    print(f"  {local['stdout']}")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    head = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
            f"--port={port}", "--node-ip-address=127.0.0.1", f"--num-cpus={opts.cpus}",
            "--include-dashboard=false", "--disable-usage-stats",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env,
    )  # fmt: skip
    os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        started = time.perf_counter()
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        time.sleep(3)
        print(f"\n(ray head on 127.0.0.1:{port} up in {time.perf_counter() - started:.1f} s)")
        ray_args = ["--no-progress", "--ray", f"127.0.0.1:{port}"]
        ray = tinyseek([str(opts.corpus), "--out", str(opts.work / "ray"), *ray_args])
        print(
            f"== ray ({opts.cpus} CPUs): {ray['seconds']:.1f} s, "
            f"{products / ray['seconds']:.0f} products/s; "
            f"{ray['seconds'] / local['seconds']:.2f}x the local wall time"
        )
        print(f"  {ray['stdout'] or ray['stderr']}")

        resumable = [str(opts.corpus), "--out", str(opts.work / "killed"), *ray_args]
        killed = tinyseek(resumable, kill_at=0.5)
        print(
            f"\n== ray, driver SIGKILLed with {killed['killed_with']} products recorded "
            f"after {killed['seconds']:.1f} s"
        )
        blocks = len(list((opts.work / "killed" / ".checkpoint").glob("shard-*.npy")))
        print(f"  shard files on disk at the kill: {blocks}")
        resumed = tinyseek([*resumable, "--resume"])
        print(f"  resumed: {resumed['seconds']:.1f} s; {resumed['stdout'] or resumed['stderr']}")
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()

    base = snapshot(opts.work / "local", queries)
    for name in ("ray", "killed"):
        other = snapshot(opts.work / name, queries)
        same_ids = base[0] == other[0]
        close = same_ids and bool(np.allclose(base[1], other[1], atol=1e-5))
        diff = float(np.abs(base[1] - other[1]).max()) if same_ids else float("nan")
        same_top = base[2] == other[2]
        print(
            f"\n{name} vs local: same ids {same_ids}; vectors within 1e-5 {close} "
            f"(max diff {diff:.2e}); same top-10 for {len(queries)} queries x 3 modes {same_top}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
