"""Document writes (upsert / delete) applied to the served index through `indexer.IndexWriter`.

A write commits in place (a new manifest revision of the served generation);
the engine is then reloaded before the request returns, so the next search sees
the change. Writes are serialised in-process by a lock; across processes the
index's writer lock (held by IndexWriter) refuses a concurrent writer, which
becomes HTTP 503 with the holder's description.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from tinyseek.models.encoder import Encoder
from tinyseek.search.engine import Engine
from tinyseek.search.types import Product


class WritesUnavailable(RuntimeError):
    """The write cannot be applied now (another writer holds the index); the message says why."""


@dataclass(frozen=True)
class WriteResult:
    upserted: int
    deleted: int
    generation: str
    revision: int


class DocumentWriter:
    """Applies upserts and deletes to the engine's index and makes them visible."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()

    def _encoder(self) -> Encoder:
        encoder = self.engine.encoder
        inner: Encoder | None = getattr(encoder, "inner", None)  # unwrap micro-batching
        return inner if inner is not None else encoder

    def upsert(self, products: Sequence[Product]) -> WriteResult:
        from tinyseek.indexer.writer import IndexWriter

        with self._lock:
            try:
                with IndexWriter(self.engine.index_dir, encoder=self._encoder()) as writer:
                    writer.upsert(products)
                    stats = writer.commit()
            except (ImportError, RuntimeError, OSError) as exc:
                raise WritesUnavailable(str(exc)) from exc
            self.engine.reload_if_changed()
            return WriteResult(stats.upserted, 0, stats.generation, stats.revision)

    def delete(self, product_ids: Sequence[str]) -> WriteResult:
        """Delete these ids; raises KeyError naming the first id that is not in the index."""
        from tinyseek.indexer.writer import IndexWriter

        with self._lock:
            self.engine.reload_if_changed()  # judge existence against the newest revision
            store = self.engine.generation.store
            missing = [pid for pid in product_ids if store.ordinal_of(pid) is None]
            if missing:
                raise KeyError(missing[0])
            try:
                with IndexWriter(self.engine.index_dir, encoder=self._encoder()) as writer:
                    writer.delete(product_ids)
                    stats = writer.commit()
            except (RuntimeError, OSError) as exc:
                raise WritesUnavailable(str(exc)) from exc
            self.engine.reload_if_changed()
            return WriteResult(0, stats.deleted, stats.generation, stats.revision)
