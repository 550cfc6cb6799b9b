"""Measure FAISS flat vs HNSW: latency (1 thread, one query) and recall@10, to set defaults.

    python benchmarks/bench_dense.py [--index INDEX_DIR] [--sizes 5000,20000,55000]

With --index, vectors come from that index's dense.faiss (real product embeddings)
and queries are held-out product vectors with noise; otherwise random unit vectors.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import faiss
import numpy as np

from tinyseek.search.dense import DenseIndex, DenseParams
from tinyseek.search.layout import DENSE_FILE, current_generation


def load_vectors(index_dir: Path | None, n: int, dim: int = 384) -> np.ndarray:
    if index_dir is None:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, dim)).astype(np.float32)
    else:
        index = faiss.read_index(str(current_generation(index_dir) / DENSE_FILE))
        storage = faiss.downcast_index(index.storage) if hasattr(index, "storage") else index
        x = storage.reconstruct_n(0, min(n, storage.ntotal))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--sizes", default="5000,20000,55000")
    parser.add_argument("--ef", default="32,64,96,128")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(1)
    print(f"{'n':>7} {'index':<12} {'build s':>8} {'p50 ms':>7} {'p99 ms':>7} {'recall@10':>9}")
    for n in (int(s) for s in args.sizes.split(",")):
        vectors = load_vectors(args.index, n)
        n = len(vectors)
        picks = rng.choice(n, size=args.queries, replace=False)
        queries = vectors[picks] + rng.normal(0, 0.05, (args.queries, vectors.shape[1]))
        queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
        truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
        configs: list[tuple[str, DenseParams]] = [("flat", DenseParams(hnsw_threshold=1 << 62))]
        configs += [
            (f"hnsw ef={ef}", DenseParams(hnsw_threshold=0, ef_search=int(ef)))
            for ef in args.ef.split(",")
        ]
        built: dict[int, tuple[float, object]] = {}
        for label, params in configs:
            index = DenseIndex.create(vectors.shape[1], n, params)
            started = time.perf_counter()
            if params.hnsw_threshold == 0 and 0 in built:
                index._index = built[0][1]
                index._index.hnsw.efSearch = params.ef_search
                build_s = built[0][0]
            else:
                index.add(vectors)
                build_s = time.perf_counter() - started
                if params.hnsw_threshold == 0:
                    built[0] = (build_s, index._index)
            times, found = [], 0
            for q, t in zip(queries, truth):
                t0 = time.perf_counter()
                hits = index.search(q, 10)
                times.append((time.perf_counter() - t0) * 1000)
                found += len({o for o, _ in hits} & set(t.tolist()))
            p50, p99 = np.percentile(times, [50, 99])
            recall = found / (10 * len(queries))
            print(f"{n:>7} {label:<12} {build_s:>8.1f} {p50:>7.3f} {p99:>7.3f} {recall:>9.3f}")


if __name__ == "__main__":
    main()
