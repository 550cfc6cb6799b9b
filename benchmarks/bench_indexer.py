"""Indexer benchmark: full build, kill -9 + resume, searching during a publish, update visibility.

    flock /tmp/tinyseek-bench.lock python benchmarks/bench_indexer.py \
        [--corpus /work/shared/data/homedepot/corpus.jsonl] [--encoder teacher] [--work DIR]

1. A clean `tinyseek index` of the corpus in a subprocess: products/s, wall time,
   peak RSS (of that process), index size on disk.
2. A second build into the same index directory, killed with SIGKILL at about
   50% of its embedding, then `--resume`d: wall time of the resumed part; the
   product count and the results of 20 queries (every mode) must equal the
   clean build's.
3. All along step 2, a searcher thread queries the index in a loop, calling
   `reload_if_changed()` before each query: it must see zero errors and end on
   the newly published generation.
4. Upsert (a new product, a replaced one) and delete through `IndexWriter`: the
   very next search after `reload_if_changed()` reflects them in bm25, dense and
   hybrid modes. Commit and reload times are printed.

Numbers depend on the machine and on whatever else runs on it; the encoder
dominates the build time (the compact encoder will change the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared/data/homedepot/corpus.jsonl"
MODES = ("bm25", "dense", "hybrid")


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_index(args: list[str], kill_at: float | None = None, total: int = 0) -> dict[str, Any]:
    """Run `tinyseek index` as a child; optionally SIGKILL it once `kill_at` of rows embedded."""
    cmd = [sys.executable, "-m", "tinyseek.cli", "index", *args]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed_at = None
    if kill_at is not None:
        out_dir = Path(args[args.index("--out") + 1])
        progress = out_dir / ".checkpoint" / "progress.json"
        while proc.poll() is None:
            time.sleep(0.5)
            try:
                state = json.loads(progress.read_text())
            except (OSError, ValueError):
                continue
            if sum(state["shards"]) >= kill_at * total:
                time.sleep(2.0)  # land inside the next chunk, not on a boundary
                os.kill(proc.pid, signal.SIGKILL)
                killed_at = sum(json.loads(progress.read_text())["shards"])
                break
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = proc.stdout.read() if proc.stdout else ""
    stderr = proc.stderr.read() if proc.stderr else ""
    return {
        "seconds": time.perf_counter() - started,
        "returncode": proc.returncode,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "stdout": stdout.strip(),
        "stderr_tail": stderr.strip().splitlines()[-3:],
        "killed_with_embedded": killed_at,
    }


class Searcher(threading.Thread):
    """Queries an index in a loop, reloading when it changes; counts errors and generations."""

    def __init__(self, engine: Any, queries: list[str]) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.queries = queries
        self.stop = threading.Event()
        self.searches = 0
        self.errors: list[str] = []
        self.generations: list[str] = [engine.generation.name]
        self.reload_seconds: list[float] = []

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            try:
                started = time.perf_counter()
                if self.engine.reload_if_changed():
                    self.reload_seconds.append(time.perf_counter() - started)
                    self.generations.append(self.engine.generation.name)
                mode = MODES[i % 3]
                self.engine.search(self.queries[i % len(self.queries)], k=10, mode=mode)
                self.searches += 1
            except Exception as exc:  # the point is to count every failure
                self.errors.append(repr(exc))
            i += 1
            time.sleep(0.05)


def results(engine: Any, queries: list[str]) -> list[list[str]]:
    return [[h.doc_id for h in engine.search(q, k=10, mode=m)] for q in queries for m in MODES]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--queries", type=Path, default=None)
    parser.add_argument("--encoder", default="teacher")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/tinyseek-bench-indexer"))
    parser.add_argument("--checkpoint-every", type=int, default=2048)
    opts = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from tinyseek.indexer.readers import count_rows
    from tinyseek.indexer.writer import IndexWriter
    from tinyseek.models.encoder import load_encoder
    from tinyseek.search.engine import Engine, load_generation
    from tinyseek.search.types import Product

    shutil.rmtree(opts.work, ignore_errors=True)
    opts.work.mkdir(parents=True)
    index_dir = opts.work / "index"
    total = count_rows(opts.corpus)
    queries_file = opts.queries or opts.corpus.with_name("queries.jsonl")
    with queries_file.open() as fh:
        queries = [json.loads(line)["text"] for line, _ in zip(fh, range(20))]
    common = [
        "--out", str(index_dir), "--encoder", opts.encoder, "--threads", str(opts.threads),
        "--no-progress", "--checkpoint-every", str(opts.checkpoint_every),
    ]  # fmt: skip
    print(f"corpus: {opts.corpus} ({total} rows); encoder: {opts.encoder}; cpus: {os.cpu_count()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")

    # 1. clean build
    clean = run_index([str(opts.corpus), *common])
    if clean["returncode"] != 0:
        print("clean build failed:", clean)
        return 1
    gen1 = (index_dir / "CURRENT").read_text().strip()
    products = json.loads((index_dir / gen1 / "manifest.json").read_text())["doc_count"]
    size = du(index_dir / gen1)
    print("\n== 1. full build (subprocess `tinyseek index`)")
    print(f"  {clean['stdout']}")
    rate = products / clean["seconds"]
    print(f"  products: {products}; wall: {clean['seconds']:.1f} s; {rate:.0f} products/s")
    print("  (end to end: process start, model load, embedding, BM25/store, FAISS HNSW, fsync)")
    print(f"  peak RSS: {clean['peak_rss_mb']:.0f} MB; index size on disk: {size / 1e6:.1f} MB")
    for name in sorted(p.name for p in (index_dir / gen1).iterdir()):
        part = index_dir / gen1 / name
        part_size = du(part) if part.is_dir() else part.stat().st_size
        print(f"    {name}: {part_size / 1e6:.1f} MB")

    encoder = load_encoder(opts.encoder, threads=1)
    engine = Engine.open(index_dir, encoder=encoder)
    searcher = Searcher(engine, queries)
    searcher.start()

    # 2. second build into the same directory, killed at ~50%, then resumed
    print("\n== 2. rebuild killed with SIGKILL at ~50%, then --resume")
    killed = run_index([str(opts.corpus), *common], kill_at=0.5, total=total)
    print(f"  killed after {killed['seconds']:.1f} s with {killed['killed_with_embedded']} "
          f"products in checkpoint shards (returncode {killed['returncode']})")  # fmt: skip
    served_after_kill = (index_dir / "CURRENT").read_text().strip()
    print(f"  CURRENT after the kill: {served_after_kill} (unchanged: {served_after_kill == gen1})")
    resumed = run_index([str(opts.corpus), *common, "--resume"])
    print(f"  resumed part: wall {resumed['seconds']:.1f} s, peak RSS "
          f"{resumed['peak_rss_mb']:.0f} MB, returncode {resumed['returncode']}")  # fmt: skip
    print(f"  {resumed['stdout']}")
    gen2 = (index_dir / "CURRENT").read_text().strip()
    time.sleep(1.0)
    searcher.stop.set()
    searcher.join()

    g1 = Engine(index_dir, load_generation(index_dir / gen1), encoder)
    g2 = Engine(index_dir, load_generation(index_dir / gen2), encoder)
    same = results(g1, queries) == results(g2, queries)
    print(f"  clean {gen1}: {len(g1)} products; resumed {gen2}: {len(g2)} products; "
          f"equal counts: {len(g1) == len(g2)}")  # fmt: skip
    print(f"  identical top-10 for {len(queries)} queries x {len(MODES)} modes: {same}")

    # 3. searcher during the rebuild and publish
    print("\n== 3. searcher looping (reload_if_changed + search) during steps 2")
    print(f"  searches: {searcher.searches}; errors: {len(searcher.errors)} "
          f"{searcher.errors[:3]}")  # fmt: skip
    print(f"  generations seen: {' -> '.join(searcher.generations)}; "
          f"ends on the new one: {searcher.generations[-1] == gen2}")  # fmt: skip
    if searcher.reload_seconds:
        print(f"  full reload of the new generation: {max(searcher.reload_seconds):.2f} s")

    # 4. upsert/delete visibility
    print("\n== 4. upsert and delete, visible to the very next search")
    engine = Engine.open(index_dir, encoder=encoder)
    t = time.perf_counter()
    for _ in range(1000):
        engine.reload_if_changed()
    print(f"  reload_if_changed() with nothing changed: "
          f"{(time.perf_counter() - t) * 1e6 / 1000:.0f} us")  # fmt: skip
    victim = engine.search(queries[0], k=1)[0].product
    replaced = next(h.product for h in engine.search(queries[1], k=5) if h.doc_id != victim.id)
    new = Product(id="BENCH-NEW-1", title="Quixotic zebra-striped garden gnome lantern")
    renamed = Product(id=replaced.id, title="Xylophone shaped mailbox with brass flag")
    t = time.perf_counter()
    with IndexWriter(index_dir, encoder) as writer:
        writer.upsert([new, renamed])
        writer.delete([victim.id])
        stats = writer.commit()
    commit_s = time.perf_counter() - t
    t = time.perf_counter()
    changed = engine.reload_if_changed()
    reload_s = time.perf_counter() - t
    print(f"  commit: {commit_s:.2f} s ({stats}); reload: {reload_s:.2f} s (changed={changed})")
    ok = True
    for mode in MODES:
        found_new = [h.doc_id for h in engine.search(new.title, k=5, mode=mode)]
        found_renamed = engine.search(renamed.title, k=5, mode=mode)
        found_victim = [h.doc_id for h in engine.search(victim.title, k=20, mode=mode)]
        old_title = [h.doc_id for h in engine.search(replaced.title, k=20, mode=mode)]
        checks = {
            "new found": new.id in found_new[:1],
            "replacement found": any(
                h.doc_id == renamed.id and h.product.title == renamed.title
                for h in found_renamed[:1]
            ),
            "deleted gone": victim.id not in found_victim,
            "old version gone": all(
                h.product.title != replaced.title
                for h in engine.search(replaced.title, k=20, mode=mode)
                if h.doc_id == replaced.id
            )
            and old_title.count(replaced.id) <= 1,
        }
        ok &= all(checks.values())
        print(f"  {mode:>6}: " + ", ".join(f"{k}: {v}" for k, v in checks.items()))
    print(f"\nall checks passed: {ok and same and not searcher.errors and len(g1) == len(g2)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
