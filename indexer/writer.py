"""Incremental upsert and delete on the served generation, in place, with a revision bump.

Design choice: updates are applied to the served generation in place rather
than written as a new generation, so a one-product change costs a small
embedding, a tantivy commit and one rewrite of the FAISS file, not a copy of
the whole index. Every component is append-only between compactions:

- an upserted product gets a fresh ordinal (its old row, if any, becomes a
  tombstone); a deleted product's row becomes a tombstone;
- FAISS and tantivy only ever gain ordinals; tombstoned ordinals stay in them
  until `compact`, and readers drop them through the store's alive mask.

A commit runs in this order, each step atomic on its own:

1. FAISS: vectors appended, file written aside, fsynced and renamed over dense.faiss;
2. tantivy: documents added, committed (tantivy replaces its meta.json atomically);
3. store: new rows and tombstones in one SQLite transaction (the commit point);
4. manifest: `revision` + 1, counts and checksums, replaced atomically.

Readers load in the opposite order (manifest, store, then the indexes; see
`search.engine.load_generation`), so whatever instant they load at, the indexes
they hold contain every product their store snapshot calls alive, and any
ordinals beyond it are masked as not alive: a reader sees an update entirely or
not at all. `Engine.reload_if_changed` notices the new manifest revision.

A crash between steps leaves ordinals in FAISS/tantivy that the store never
committed; they are never alive, and the next commit allocates ordinals past
them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from tinyseek.indexer.embedding import BatchPolicy, embed_texts
from tinyseek.indexer.generations import component_checksums, write_atomic, write_manifest
from tinyseek.indexer.lock import WriterLock
from tinyseek.models.encoder import Encoder
from tinyseek.search.bm25 import BM25Index
from tinyseek.search.dense import DenseIndex, DenseParams
from tinyseek.search.layout import (
    BM25_DIR,
    DENSE_FILE,
    DOCS_FILE,
    current_generation,
    read_manifest,
)
from tinyseek.search.store import DocStore
from tinyseek.search.types import Product


@dataclass(frozen=True)
class CommitStats:
    generation: str
    revision: int
    upserted: int
    """Products written (new or replacing a live product)."""
    replaced: int
    """Of the upserted, how many replaced a live product with the same id."""
    deleted: int
    """Live products removed by delete."""
    missing: int
    """Ids asked to be deleted that had no live product."""
    live: int
    tombstones: int
    seconds: float


class IndexWriter:
    """Buffered upserts and deletes against the served generation, applied by `commit`.

    Holds the index's writer lock from construction to `close` (a second writer
    gets WriterLockedError). Within one commit the last operation on an id wins.
    Changes not committed when the writer closes are discarded.

    >>> with IndexWriter("index", encoder) as writer:  # doctest: +SKIP
    ...     writer.upsert([Product(id="42", title="Oak desk")])
    ...     writer.delete(["17"])
    ...     writer.commit()
    """

    def __init__(
        self,
        index_dir: str | Path,
        encoder: Encoder | None = None,
        policy: BatchPolicy | None = None,
        threads: int | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self._lock = WriterLock(self.index_dir)
        self._lock.acquire()
        try:
            gen_dir = current_generation(self.index_dir)
            manifest = read_manifest(gen_dir)
            if encoder is None:
                from tinyseek.search.engine import encoder_for

                encoder = encoder_for(gen_dir, manifest, threads)
            expected = manifest["encoder"]
            if (encoder.name, encoder.dim) != (expected["name"], expected["dim"]):
                raise ValueError(
                    f"encoder {encoder.name!r} (dim {encoder.dim}) does not match the index, "
                    f"built with {expected['name']!r} (dim {expected['dim']})"
                )
        except BaseException:
            self._lock.release()
            raise
        self.encoder = encoder
        self.policy = policy or BatchPolicy()
        self._pending: dict[str, Product | None] = {}

    @property
    def pending(self) -> int:
        return len(self._pending)

    def upsert(self, products: Iterable[Product]) -> int:
        """Queue products to add or replace (by id); returns how many were queued."""
        n = 0
        for product in products:
            if not isinstance(product, Product):
                raise TypeError(f"upsert expects Product records, got {type(product).__name__}")
            self._pending.pop(product.id, None)  # keep operations in arrival order
            self._pending[product.id] = product
            n += 1
        return n

    def delete(self, product_ids: Iterable[str]) -> int:
        """Queue ids to delete; returns how many were queued."""
        n = 0
        for product_id in product_ids:
            product_id = str(product_id).strip()
            if product_id:
                self._pending.pop(product_id, None)
                self._pending[product_id] = None
                n += 1
        return n

    def discard(self) -> None:
        """Drop the queued operations."""
        self._pending.clear()

    def commit(self) -> CommitStats:
        """Apply the queued operations to the served generation (order: see the module doc)."""
        if not self._lock.held:
            raise RuntimeError("this IndexWriter is closed")
        started = time.perf_counter()
        gen_dir = current_generation(self.index_dir)
        manifest = read_manifest(gen_dir)
        if not self._pending:
            live = int(manifest.get("doc_count", 0))
            tombstones = int(manifest.get("tombstones", 0))
            return CommitStats(
                gen_dir.name, int(manifest.get("revision", 0)), 0, 0, 0, 0, live, tombstones, 0.0
            )
        upserts = [p for p in self._pending.values() if p is not None]
        store = DocStore(gen_dir / DOCS_FILE, writable=True)
        try:
            previous = store.live_ordinals(self._pending)
            deletes = [pid for pid, p in self._pending.items() if p is None]
            # Embed before touching anything: the slow step, and the likeliest to fail.
            vectors = embed_texts(self.encoder, [p.dense_text() for p in upserts], self.policy)

            params = DenseParams(**manifest.get("dense", {}).get("params", {}))
            dense = DenseIndex.load(gen_dir / DENSE_FILE, params)
            store_next = store.next_ordinal()
            if len(dense) < store_next:
                raise RuntimeError(
                    f"{gen_dir}: the dense index has {len(dense)} vectors but the store "
                    f"{store_next} ordinals; the generation is damaged (rebuild it)"
                )
            base = len(dense)  # past any ordinal an interrupted commit left behind
            ordinals = list(range(base, base + len(upserts)))
            if upserts:
                dense.add(vectors)
                write_atomic(gen_dir / DENSE_FILE, dense.save)

                bm25 = BM25Index.open(gen_dir / BM25_DIR)
                bm25_writer = bm25.writer()
                BM25Index.add(bm25_writer, ordinals, upserts)
                bm25_writer.commit()
                bm25_writer.wait_merging_threads()

            store.tombstone_ordinals(previous.values())
            store.append(ordinals, upserts)
            store.commit()
            live = store.live_count()
            total = max(store.next_ordinal(), len(dense))
        finally:
            store.close()

        revision = int(manifest.get("revision", 0)) + 1
        manifest.update(
            revision=revision,
            updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            doc_count=live,
            ordinals=total,
            tombstones=total - live,
            checksums=component_checksums(gen_dir),
        )
        write_manifest(gen_dir, manifest)
        upserted_ids = {p.id for p in upserts}
        stats = CommitStats(
            generation=gen_dir.name,
            revision=revision,
            upserted=len(upserts),
            replaced=sum(1 for pid in previous if pid in upserted_ids),
            deleted=sum(1 for pid in deletes if pid in previous),
            missing=sum(1 for pid in deletes if pid not in previous),
            live=live,
            tombstones=total - live,
            seconds=time.perf_counter() - started,
        )
        self._pending.clear()
        return stats

    def close(self) -> None:
        self._pending.clear()
        self._lock.release()

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["CommitStats", "IndexWriter"]
