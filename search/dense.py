"""Dense retrieval through FAISS: inner product on L2-normalised vectors.

Exact (flat) search below `hnsw_threshold` vectors, HNSW above it. FAISS ids are
document ordinals. A boolean mask (live and matching the filters) restricts the
search through an IDSelector; when HNSW cannot fill k results under a selective
mask, the exact flat storage is searched instead, so k matching results come back
whenever k matching products exist.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# faiss ships partial type stubs that lack the SWIG classes used here (HNSW search
# parameters, ID selectors), so it is typed as Any.
faiss: Any = importlib.import_module("faiss")


@dataclass(frozen=True)
class DenseParams:
    hnsw_threshold: int = 20_000
    hnsw_m: int = 32
    # Measured on Home Depot dev (55k titles, 7,856 real queries, teacher), nDCG@10 against
    # exact search 0.2758: efConstruction 80 + efSearch 128 gave 0.2687; efConstruction 200
    # gives 0.2728 at efSearch 128 (0.35 ms/query, 1 thread) and 0.2741 at 256 (0.62 ms).
    ef_construction: int = 200
    ef_search: int = 128
    exact_below_fraction: float = 0.02
    """Masks keeping less than this fraction of vectors go straight to exact search."""


class DenseIndex:
    """A FAISS index of ordinals: build / add / search / save / load."""

    def __init__(self, index: Any, params: DenseParams) -> None:
        self._index = index
        self.params = params

    @classmethod
    def create(cls, dim: int, expected_size: int, params: DenseParams | None = None) -> DenseIndex:
        params = params or DenseParams()
        index: Any
        if expected_size >= params.hnsw_threshold:
            index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.ef_construction
            index.hnsw.efSearch = params.ef_search
        else:
            index = faiss.IndexFlatIP(dim)
        return cls(index, params)

    @classmethod
    def load(cls, path: Path, params: DenseParams | None = None) -> DenseIndex:
        if not path.is_file():
            raise FileNotFoundError(f"dense index not found: {path}")
        index = faiss.read_index(str(path))
        params = params or DenseParams()
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = params.ef_search
        return cls(index, params)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @property
    def kind(self) -> str:
        return "hnsw" if self.is_hnsw else "flat"

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
        """Stored vectors at these ordinals, float32 (n, dim), e.g. to copy them when compacting."""
        ids = np.fromiter(ordinals, dtype=np.int64)
        if len(ids) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.asarray(self._flat().reconstruct_batch(ids), dtype=np.float32)

    def _flat(self) -> Any:
        if self.is_hnsw:
            return faiss.downcast_index(self._index.storage)
        return self._index

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
        exact = not self.is_hnsw or allowed < self.params.exact_below_fraction * len(self)
        if not exact:
            hits = self._run(self._index, q, n, selector)
            if len(hits) >= n:
                return hits
        return self._run(self._flat(), q, n, selector)

    def _run(self, index: Any, q: np.ndarray, n: int, selector: Any) -> list[tuple[int, float]]:
        params: Any = None
        if selector is not None:
            if isinstance(index, faiss.IndexHNSW):
                params = faiss.SearchParametersHNSW(
                    sel=selector, efSearch=max(self.params.ef_search, n)
                )
            else:
                params = faiss.SearchParameters(sel=selector)
        elif isinstance(index, faiss.IndexHNSW) and n > self.params.ef_search:
            params = faiss.SearchParametersHNSW(efSearch=n)
        scores, ids = index.search(q, n, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
