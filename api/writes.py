"""Document writes (upsert / delete) applied to the served index.

PENDING: the indexer is gaining incremental upsert/delete (an `indexer.IndexWriter`).
Until it lands, `RebuildWriter` applies a write by building a complete new
generation from the served one's live products plus the change, publishing it,
and switching the engine to it before returning. That is correct and atomic, but
it re-encodes the whole catalog per write, so it is refused above
`rebuild_limit` products (HTTP 503 with the reason).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from search.engine import Engine
from search.types import Product


class WritesUnavailable(RuntimeError):
    """The write cannot be applied on this index now; the message says why."""


@dataclass(frozen=True)
class WriteResult:
    upserted: int
    deleted: int
    generation: str
    pending: bool


class DocumentWriter(Protocol):
    def upsert(self, products: Sequence[Product]) -> WriteResult: ...

    def delete(self, product_ids: Sequence[str]) -> WriteResult:
        """Delete these ids; raises KeyError naming an id that is not in the index."""
        ...


class RebuildWriter:
    """Fallback writer: one full rebuild per write, serialised by a lock."""

    def __init__(self, engine: Engine, rebuild_limit: int = 10_000) -> None:
        self.engine = engine
        self.rebuild_limit = rebuild_limit
        self._lock = threading.Lock()

    def upsert(self, products: Sequence[Product]) -> WriteResult:
        latest = {p.id: p for p in products}  # the last copy of a repeated id wins
        with self._lock:
            self._rebuild(latest.values(), replaced=set(latest))
            return WriteResult(len(latest), 0, self.engine.generation.name, pending=False)

    def delete(self, product_ids: Sequence[str]) -> WriteResult:
        ids = set(product_ids)
        with self._lock:
            store = self.engine.generation.store
            missing = sorted(pid for pid in ids if store.ordinal_of(pid) is None)
            if missing:
                raise KeyError(missing[0])
            self._rebuild([], replaced=ids)
            return WriteResult(0, len(ids), self.engine.generation.name, pending=False)

    def _rebuild(self, additions: Iterable[Product], replaced: set[str]) -> None:
        from indexer.build import build_index
        from search.dense import DenseParams

        engine = self.engine
        engine.reload_if_changed()  # build on top of the newest published generation
        gen = engine.generation
        if len(engine) > self.rebuild_limit:
            raise WritesUnavailable(
                f"this index has {len(engine)} products; until incremental writes land "
                f"(indexer.IndexWriter) the service applies a write by rebuilding the index, "
                f"which it only does up to {self.rebuild_limit} products"
            )
        kept = (p for _, p in gen.store.iter_live() if p.id not in replaced)
        params = DenseParams(**gen.manifest.get("dense", {}).get("params", {}))

        def products() -> Iterator[Product]:
            yield from kept
            yield from additions

        try:
            build_index(
                products(),
                engine.index_dir,
                engine.encoder,
                dense_params=params,
                fusion=engine.default_weights,
            )
        except ValueError as exc:  # e.g. deleting the last product leaves nothing to index
            raise WritesUnavailable(str(exc)) from exc
        engine.reload_if_changed()
