"""Dense retrieval through FAISS: inner product on L2-normalised vectors.

The kind of index follows the catalog's size unless one is asked for (`DenseKind`):

    flat       exact search, below `hnsw_threshold` vectors (20k)
    hnsw       HNSW graph over float32 vectors (1,536 bytes a vector + ~256 for the graph)
    hnsw_sq8   HNSW over 8-bit scalar-quantised vectors, from `sq8_threshold` (500k):
               384 bytes a vector, so a million products serve in well under 2 GB
    ivfpq      inverted lists over product-quantised codes (`pq_m` bytes a vector), for
               catalogs beyond one box's memory; the lowest recall, so never automatic

What each kind costs in recall@10 against exact search is measured by every catalog build
(`indexer.build`, recorded in the manifest) and by `benchmarks/bench_scale.py`.

FAISS ids are document ordinals. A boolean mask (live and matching the filters) restricts
the search through an IDSelector; when the approximate index cannot fill k results under a
selective mask, the vectors are searched exhaustively instead (the exact flat storage of
HNSW; the quantised codes of the others), so k matching results come back whenever k
matching products exist.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# faiss ships partial type stubs that lack the SWIG classes used here (HNSW search
# parameters, ID selectors), so it is typed as Any.
faiss: Any = importlib.import_module("faiss")


class DenseKind(str, Enum):
    AUTO = "auto"
    FLAT = "flat"
    HNSW = "hnsw"
    HNSW_SQ8 = "hnsw_sq8"
    IVFPQ = "ivfpq"


@dataclass(frozen=True)
class DenseParams:
    kind: str = DenseKind.AUTO.value
    """A `DenseKind` value; "auto" chooses by size (flat, hnsw, hnsw_sq8)."""
    hnsw_threshold: int = 20_000
    sq8_threshold: int = 500_000
    """From this many vectors "auto" quantises HNSW's vectors to 8 bits (see the module)."""
    hnsw_m: int = 32
    # Measured on Home Depot dev (55k titles, 7,856 real queries, teacher), nDCG@10 against
    # exact search 0.2758: efConstruction 80 + efSearch 128 gave 0.2687; efConstruction 200
    # gives 0.2728 at efSearch 128 (0.35 ms/query, 1 thread) and 0.2741 at 256 (0.62 ms).
    ef_construction: int = 200
    ef_search: int = 128
    exact_below_fraction: float = 0.02
    """Masks keeping less than this fraction of vectors go straight to exact search."""
    ivf_lists: int = 0
    """IVF-PQ: inverted lists (0: 4 x sqrt(size), at most size / 39 so each list trains)."""
    pq_m: int = 48
    """IVF-PQ: bytes per vector (sub-quantisers of 8 bits); must divide the dimension."""
    nprobe: int = 64
    """IVF-PQ: lists searched per query."""

    def __post_init__(self) -> None:
        try:
            DenseKind(self.kind)
        except ValueError:
            valid = ", ".join(k.value for k in DenseKind)
            raise ValueError(
                f"unknown dense index kind {self.kind!r}: expected one of {valid}"
            ) from None

    def kind_for(self, size: int) -> DenseKind:
        """The index kind for a catalog of `size` vectors."""
        kind = DenseKind(self.kind)
        if kind is not DenseKind.AUTO:
            return kind
        if size < self.hnsw_threshold:
            return DenseKind.FLAT
        return DenseKind.HNSW if size < self.sq8_threshold else DenseKind.HNSW_SQ8


class VectorSearch(Protocol):
    """What a search needs of dense vectors: a `DenseIndex`, or a sharded one
    (`search.shards.ShardedDense`)."""

    @property
    def dim(self) -> int: ...

    @property
    def kind(self) -> str: ...

    def __len__(self) -> int: ...

    def search(
        self, query: np.ndarray, n: int, mask: np.ndarray | None = None
    ) -> list[tuple[int, float]]: ...

    def vectors(self, ordinals: Iterable[int]) -> np.ndarray: ...


class DenseIndex:
    """A FAISS index of ordinals: build / add / search / save / load."""

    def __init__(self, index: Any, params: DenseParams) -> None:
        self._index = index
        self.params = params

    @classmethod
    def create(cls, dim: int, expected_size: int, params: DenseParams | None = None) -> DenseIndex:
        """An empty index of the kind `params` gives for `expected_size` vectors; kinds
        that quantise must be `train`ed (see `needs_training`) before vectors are added."""
        params = params or DenseParams()
        kind = params.kind_for(expected_size)
        index: Any
        if kind is DenseKind.FLAT:
            index = faiss.IndexFlatIP(dim)
        elif kind is DenseKind.IVFPQ:
            if dim % params.pq_m:
                raise ValueError(f"pq_m {params.pq_m} does not divide the dimension {dim}")
            lists = params.ivf_lists or int(4 * np.sqrt(max(expected_size, 1)))
            lists = max(1, min(lists, expected_size // 39 or 1))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFPQ(
                quantizer, dim, lists, params.pq_m, 8, faiss.METRIC_INNER_PRODUCT
            )
            index.own_fields = True
            quantizer.this.disown()
            index.nprobe = params.nprobe
            index.set_direct_map_type(faiss.DirectMap.Array)  # vectors(): decode by ordinal
        else:
            if kind is DenseKind.HNSW_SQ8:
                index = faiss.IndexHNSWSQ(
                    dim, faiss.ScalarQuantizer.QT_8bit, params.hnsw_m, faiss.METRIC_INNER_PRODUCT
                )
            else:
                index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.ef_construction
            index.hnsw.efSearch = params.ef_search
        return cls(index, params)

    @property
    def needs_training(self) -> bool:
        return not bool(self._index.is_trained)

    def train(self, sample: np.ndarray) -> None:
        """Fit the quantiser on a sample of the vectors (a spread of the whole catalog)."""
        self._index.train(np.ascontiguousarray(sample, dtype=np.float32))

    @classmethod
    def load(cls, path: Path, params: DenseParams | None = None) -> DenseIndex:
        if not path.is_file():
            raise FileNotFoundError(f"dense index not found: {path}")
        index = faiss.read_index(str(path))
        params = params or DenseParams()
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = params.ef_search
        elif isinstance(index, faiss.IndexIVF):
            index.nprobe = params.nprobe
        return cls(index, params)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @property
    def kind(self) -> str:
        """The `DenseKind` value of the index as built."""
        if isinstance(self._index, faiss.IndexHNSWSQ):
            return DenseKind.HNSW_SQ8.value
        if self.is_hnsw:
            return DenseKind.HNSW.value
        if isinstance(self._index, faiss.IndexIVF):
            return DenseKind.IVFPQ.value
        return DenseKind.FLAT.value

    @property
    def is_exact(self) -> bool:
        """Searches return the exact top-n (a flat index)."""
        return isinstance(self._index, faiss.IndexFlat)

    @property
    def is_hnsw(self) -> bool:
        return isinstance(self._index, faiss.IndexHNSW)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append vectors; their ids are the next ordinals (len(self) onwards)."""
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def vectors(self, ordinals: Iterable[int]) -> np.ndarray:
        """Stored vectors at these ordinals, float32 (n, dim), e.g. to copy them when compacting
        (decoded, so approximate, for the quantised kinds)."""
        ids = np.fromiter(ordinals, dtype=np.int64)
        if len(ids) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.asarray(self._flat().reconstruct_batch(ids), dtype=np.float32)

    def _flat(self) -> Any:
        """The exhaustive index over the same vectors (HNSW's storage; itself otherwise)."""
        if self.is_hnsw:
            return faiss.downcast_index(self._index.storage)
        return self._index

    def _exhaustive(self, q: np.ndarray, n: int, selector: Any) -> list[tuple[int, float]]:
        if isinstance(self._index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self._index.nlist)
            scores, ids = self._index.search(q, n, params=params)
            return _ranked(ids[0], scores[0])
        return self._run(self._flat(), q, n, selector)

    def search(
        self, query: np.ndarray, n: int, mask: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-n (ordinal, inner product) for one query vector, restricted to mask."""
        if n <= 0 or len(self) == 0:
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if mask is None:
            return self._run(self._index, q, n, None)
        allowed = int(mask.sum())
        if allowed == 0:
            return []
        n = min(n, allowed)
        bits = np.packbits(mask[: len(self)], bitorder="little")
        selector = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(bits))
        exact = self.is_exact or allowed < self.params.exact_below_fraction * len(self)
        if not exact:
            hits = self._run(self._index, q, n, selector)
            if len(hits) >= n:
                return hits
        return self._exhaustive(q, n, selector)

    def search_batch(self, queries: np.ndarray, n: int) -> np.ndarray:
        """Top-n ordinals (int64 (q, n), -1 where fewer) for many query vectors, no mask."""
        if len(self) == 0:
            return np.full((len(queries), n), -1, dtype=np.int64)
        _, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), n)
        return np.asarray(ids, dtype=np.int64)

    def _run(self, index: Any, q: np.ndarray, n: int, selector: Any) -> list[tuple[int, float]]:
        params: Any = None
        if selector is not None:
            if isinstance(index, faiss.IndexHNSW):
                params = faiss.SearchParametersHNSW(
                    sel=selector, efSearch=max(self.params.ef_search, n)
                )
            elif isinstance(index, faiss.IndexIVF):
                params = faiss.SearchParametersIVF(sel=selector, nprobe=self.params.nprobe)
            else:
                params = faiss.SearchParameters(sel=selector)
        elif isinstance(index, faiss.IndexHNSW) and n > self.params.ef_search:
            params = faiss.SearchParametersHNSW(efSearch=n)
        scores, ids = index.search(q, n, params=params)
        return _ranked(ids[0], scores[0])


def _ranked(ids: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
    """(ordinal, score) best first, equal scores in ordinal order (FAISS leaves their order
    open), so a sharded index (`search.shards`) merges to the very same list."""
    found = ids >= 0
    ids, scores = ids[found], scores[found]
    hits = list(zip(ids.tolist(), scores.tolist()))
    if len(scores) > 1 and bool((scores[1:] == scores[:-1]).any()):
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
    return hits


class ExactTopK:
    """Exact top-k inner-product neighbours of a few queries, fed the vectors in order.

    Used to measure an approximate index against exact search without holding every
    vector at once (a million vectors arrive shard by shard)."""

    def __init__(self, queries: np.ndarray, k: int) -> None:
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.k = k
        self._scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        self._ids = np.zeros((len(queries), 0), dtype=np.int64)
        self.seen = 0

    def add(self, vectors: np.ndarray) -> None:
        scores = self.queries @ np.asarray(vectors, dtype=np.float32).T
        ids = np.broadcast_to(np.arange(self.seen, self.seen + len(vectors)), scores.shape)
        self.seen += len(vectors)
        scores = np.concatenate([self._scores, scores], axis=1)
        ids = np.concatenate([self._ids, ids], axis=1)
        if scores.shape[1] > self.k:
            keep = np.argpartition(-scores, self.k - 1, axis=1)[:, : self.k]
            scores = np.take_along_axis(scores, keep, axis=1)
            ids = np.take_along_axis(ids, keep, axis=1)
        self._scores, self._ids = scores, ids

    def ids(self) -> np.ndarray:
        """(q, k) ordinals, best first."""
        order = np.argsort(-self._scores, axis=1, kind="stable")
        return np.take_along_axis(self._ids, order, axis=1)


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each query's exact top-k that the approximate top-k holds."""
    if len(exact) == 0:
        return 1.0
    k = exact.shape[1]
    hits = [len(set(f[:k].tolist()) & set(e.tolist())) / k for f, e in zip(found, exact)]
    return float(np.mean(hits))
