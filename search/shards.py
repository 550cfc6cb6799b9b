"""A dense index split into shards by product id, searched as one.

The vectors are most of a large index's memory (1,536 bytes a product in float32), so they
are what a catalog too big for one replica splits. `tinyseek shard` (`indexer.shards`) cuts
the served generation's vectors into N parts by a hash of each product's id, each part a
FAISS index of the generation's kind over its own products, and writes a shard set:

    OUT/shards.json         generation, revision, kind, dense params, size, per part sha256s
    OUT/part-I.faiss        the part's index; FAISS ids are the part's local positions
    OUT/part-I.ordinals.npy the generation ordinal of each local position (int64, ascending)

`ShardedDense` answers what `DenseIndex` answers (the top n by inner product under a mask,
vectors by ordinal) by asking every part and merging: each part returns its own top n, so
the merge is the exact global top n when the parts are exact (flat), and the best of N
graph searches for HNSW. The parts can live in this process (`LocalPart`) or elsewhere (the
Ray Serve shard deployments of `api.ray_serve`): anything with `search` and `vectors`
returning a `Pending` answer. BM25, the store and the facet columns stay whole with the
engine (memory-mapped, a fraction of the vectors' memory).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tinyseek.checksums import file_sha256
from tinyseek.search.dense import DenseIndex, DenseParams

SHARDS_FILE = "shards.json"
FORMAT_VERSION = 1


def shard_of(product_id: str, shards: int) -> int:
    """The shard a product id belongs to: a stable hash (blake2b), the same on every machine."""
    digest = hashlib.blake2b(product_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % shards


def part_files(i: int) -> tuple[str, str]:
    return f"part-{i}.faiss", f"part-{i}.ordinals.npy"


class Pending(Protocol):
    def result(self) -> Any: ...


@dataclass(frozen=True)
class Done:
    """An answer already computed (a part in this process)."""

    value: Any

    def result(self) -> Any:
        return self.value


class Part(Protocol):
    """One shard's vectors: local positions in, generation ordinals out."""

    def search(self, query: np.ndarray, n: int, mask: np.ndarray | None) -> Pending:
        """Pending list of (generation ordinal, score), best first; `mask` is over local
        positions."""
        ...

    def vectors(self, local: np.ndarray) -> Pending:
        """Pending float32 (len(local), dim) array."""
        ...


class LocalPart:
    """A part loaded in this process."""

    def __init__(self, index: DenseIndex, ordinals: np.ndarray) -> None:
        if len(index) != len(ordinals):
            raise ValueError(f"a part of {len(index)} vectors has {len(ordinals)} ordinals")
        self.index = index
        self.ordinals = ordinals

    @classmethod
    def load(cls, folder: Path, i: int, params: DenseParams | None = None) -> LocalPart:
        index_file, ordinals_file = part_files(i)
        ordinals = np.load(folder / ordinals_file, allow_pickle=False)
        return cls(DenseIndex.load(folder / index_file, params), ordinals)

    def hits(self, query: np.ndarray, n: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
        return [(int(self.ordinals[i]), s) for i, s in self.index.search(query, n, mask)]

    def search(self, query: np.ndarray, n: int, mask: np.ndarray | None) -> Pending:
        return Done(self.hits(query, n, mask))

    def vectors(self, local: np.ndarray) -> Pending:
        return Done(self.index.vectors(local.tolist()))


@dataclass(frozen=True)
class ShardSet:
    """What `shards.json` records of a cut."""

    folder: Path
    generation: str
    revision: int
    kind: str
    size: int
    dim: int
    parts: tuple[dict[str, Any], ...]
    params: DenseParams = field(default_factory=DenseParams)
    """The generation's dense parameters (efSearch, ...), which the parts search with."""

    @classmethod
    def read(cls, folder: str | Path) -> ShardSet:
        folder = Path(folder)
        path = folder / SHARDS_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"no shard set at {folder} ({SHARDS_FILE} missing)") from None
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unknown format_version {data.get('format_version')!r}")
        return cls(
            folder=folder,
            generation=str(data["generation"]),
            revision=int(data["revision"]),
            kind=str(data["kind"]),
            size=int(data["size"]),
            dim=int(data["dim"]),
            parts=tuple(data["parts"]),
            params=DenseParams(**data.get("params", {})),
        )

    def ordinals(self, i: int) -> np.ndarray:
        return np.load(self.folder / part_files(i)[1], allow_pickle=False)

    def verify(self, i: int) -> None:
        """Check part i's files against their recorded sha256; raises ValueError."""
        for name, digest in self.parts[i]["sha256"].items():
            if file_sha256(self.folder / name) != digest:
                raise ValueError(f"{self.folder / name} does not match its recorded sha256")

    def load_part(self, i: int) -> LocalPart:
        self.verify(i)
        return LocalPart.load(self.folder, i, self.params)


class ShardedDense:
    """The parts of a shard set searched as one dense index (`DenseIndex`'s query side)."""

    def __init__(self, shard_set: ShardSet, parts: Sequence[Part]) -> None:
        if len(parts) != len(shard_set.parts):
            raise ValueError(f"{len(parts)} parts for a set of {len(shard_set.parts)}")
        self.shard_set = shard_set
        self.parts = list(parts)
        self.ordinals = [shard_set.ordinals(i) for i in range(len(parts))]
        self.owner = np.full(shard_set.size, -1, dtype=np.int32)
        self.position = np.zeros(shard_set.size, dtype=np.int64)
        for i, ordinals in enumerate(self.ordinals):
            self.owner[ordinals] = i
            self.position[ordinals] = np.arange(len(ordinals))
        if (self.owner < 0).any():
            raise ValueError(f"{shard_set.folder}: the parts do not cover every ordinal")

    @classmethod
    def local(cls, folder: str | Path) -> ShardedDense:
        """Every part loaded in this process."""
        shard_set = ShardSet.read(folder)
        return cls(shard_set, [shard_set.load_part(i) for i in range(len(shard_set.parts))])

    @property
    def dim(self) -> int:
        return self.shard_set.dim

    @property
    def kind(self) -> str:
        return self.shard_set.kind

    def __len__(self) -> int:
        return len(self.owner)

    def search(
        self, query: np.ndarray, n: int, mask: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-n (ordinal, inner product), restricted to mask, ties on the ordinal."""
        if n <= 0 or len(self) == 0:
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        pending = []
        for part, ordinals in zip(self.parts, self.ordinals):
            local = None if mask is None else mask[ordinals]
            if local is not None and not local.any():
                continue
            pending.append(part.search(q, n, local))
        hits = [hit for answer in pending for hit in answer.result()]
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits[:n]

    def vectors(self, ordinals: Iterable[int]) -> np.ndarray:
        ids = np.fromiter(ordinals, dtype=np.int64)
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        owners = self.owner[ids]
        pending = []
        for i, part in enumerate(self.parts):
            rows = np.flatnonzero(owners == i)
            if len(rows):
                pending.append((rows, part.vectors(self.position[ids[rows]])))
        for rows, answer in pending:
            out[rows] = answer.result()
        return out
