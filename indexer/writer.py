"""The one write path: writes go to the journal first, then into a generation in place.

Every upsert and delete, whoever makes it (`IndexWriter`, `tinyseek update`, the HTTP
API), is appended to the index's journal (`indexer.journal`) and fsynced before it is
acknowledged; `apply_journal` then applies the journal records a generation does not
hold yet, under the writer lock. A rebuild, a compaction and a rollback apply the
records their new generation lacks before publishing it (`publish_with_writes`), so no
acknowledged write is ever dropped.

Applying in place rather than writing a new generation keeps a one-product change
cheap: a small embedding, a tantivy commit and one FAISS file. Every component is
append-only between compactions:

- an upserted product gets a fresh ordinal (its old row, if any, becomes a
  tombstone); a deleted product's row becomes a tombstone;
- FAISS and tantivy only ever gain ordinals; tombstoned ordinals stay in them
  until `compact`, and readers drop them through the store's alive mask.

An apply runs in this order; no published file is ever rewritten:

1. FAISS: the vectors appended, written to a new file (dense.r000007.faiss);
2. tantivy: documents added and committed (new segment files; tantivy replaces its
   meta.json atomically);
3. store: tombstones, new rows and the meta (revision + 1, the last journal record
   applied, the new FAISS file, every file's checksum) in one SQLite transaction:
   the commit point;
4. manifest: a summary (revision, counts, checksums) replaced atomically;
5. FAISS files two revisions old are deleted.

Readers load the store first (`search.engine.load_generation`), so whatever instant
they load at, the indexes they open hold every product their store state calls alive,
and the extra tantivy documents of an uncommitted apply are masked as not alive. A
crash before step 3 leaves those extra documents (never alive; the next apply
allocates ordinals past them) and an unreferenced FAISS file (overwritten or deleted
later); the journal still holds the write, and the next apply applies it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

import numpy as np

from tinyseek.checksums import file_sha256
from tinyseek.failpoints import failpoint
from tinyseek.indexer.embedding import BatchPolicy, embed_texts
from tinyseek.indexer.generations import (
    component_checksums,
    publish,
    write_atomic,
    write_manifest,
)
from tinyseek.indexer.guard import check_before_publish
from tinyseek.indexer.journal import (
    Journal,
    JournalRecord,
    Op,
    WouldDropWritesError,
    live_records,
)
from tinyseek.indexer.lock import WriterLock
from tinyseek.models.encoder import Encoder
from tinyseek.search.bm25 import BM25Index
from tinyseek.search.dense import DenseIndex, DenseParams
from tinyseek.search.integrity import FileVerifier, check_files
from tinyseek.search.layout import (
    BM25_DIR,
    DENSE_FILE,
    DOCS_FILE,
    CorruptGenerationError,
    current_generation,
    list_generations,
    read_manifest,
)
from tinyseek.search.store import DocStore, StoreMeta
from tinyseek.search.types import Product
from tinyseek.search.validation import check_product, normalise_id

log = logging.getLogger(__name__)
DENSE_NAME = re.compile(r"^dense(\.r(\d{6}))?\.faiss$")


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
    records: int = 0
    """Journal records applied (another writer's pending writes included)."""
    journal_seq: int = 0
    """The last journal record the generation now holds."""
    missing_ids: tuple[str, ...] = ()
    """The ids of `missing`, in the order they were asked."""


def dense_file_name(revision: int) -> str:
    return DENSE_FILE if revision == 0 else f"dense.r{revision:06d}.faiss"


def legacy_meta(gen_dir: Path, manifest: Mapping[str, object]) -> StoreMeta:
    """The meta of a store written before the meta table, from the manifest and the files."""
    dense = DenseIndex.load(gen_dir / DENSE_FILE)
    revision = manifest.get("revision", 0)
    return StoreMeta(
        revision=int(revision) if isinstance(revision, int) else 0,
        journal_seq=0,
        dense_file=DENSE_FILE,
        vectors=len(dense),
        files=component_checksums(gen_dir),
    )


def _collapse(records: Iterable[JournalRecord]) -> dict[str, Product | None]:
    """The last operation on each id, in arrival order."""
    pending: dict[str, Product | None] = {}
    for record in records:
        for pid, product in record.ops:
            pending.pop(pid, None)
            pending[pid] = product
    return pending


def apply_journal(
    gen_dir: Path,
    journal: Journal,
    encoder: Encoder | None,
    policy: BatchPolicy | None = None,
    verifier: FileVerifier | None = None,
) -> CommitStats:
    """Apply the journal records `gen_dir` does not hold yet (order: see the module doc).

    The caller holds the index's writer lock. The generation is verified first (the
    store by SQLite's quick_check, the other files against their checksums): a damaged
    one raises CorruptGenerationError and is left alone. `encoder` None loads the one
    the generation was built with, when there is anything to apply.
    """
    started = time.perf_counter()
    manifest = read_manifest(gen_dir)
    remove_stale_temporary_files(gen_dir)
    docs = gen_dir / DOCS_FILE
    try:
        store = DocStore(docs, writable=True)
    except FileNotFoundError:
        raise CorruptGenerationError(docs, "missing") from None
    try:
        if problem := store.quick_check():
            raise CorruptGenerationError(docs, f"fails SQLite's quick_check: {problem}")
        meta = store.meta() or legacy_meta(gen_dir, manifest)
        trimmed_seq, _ = journal.trimmed()
        if meta.journal_seq < trimmed_seq:
            raise WouldDropWritesError(
                f"{gen_dir.name} holds journal records up to #{meta.journal_seq}, but records "
                f"up to #{trimmed_seq} were trimmed from {journal.dir}; serving it would drop "
                "acknowledged writes"
            )
        everything = list(journal.records(after=meta.journal_seq))
        records = live_records(everything)
        live = store.live_count()
        if not records:
            journal_seq = everything[-1].seq if everything else meta.journal_seq
            if journal_seq != meta.journal_seq:  # only cancelled records: nothing to write
                store.write_meta(replace(meta, journal_seq=journal_seq))
                store.commit()
            total = max(store.next_ordinal(), meta.vectors)
            return CommitStats(
                gen_dir.name, meta.revision, 0, 0, 0, 0, live, total - live, 0.0,
                journal_seq=journal_seq,
            )  # fmt: skip
        verifier = verifier or FileVerifier()
        check_files(gen_dir, meta.files, verifier)
        if encoder is None:
            from tinyseek.search.engine import encoder_for

            encoder = encoder_for(gen_dir, manifest, None)
        pending = _collapse(records)
        upserts = [p for p in pending.values() if p is not None]
        deletes = [pid for pid, p in pending.items() if p is None]
        previous = store.live_ordinals(pending)
        # Embed before touching anything: the slow step, and the likeliest to fail.
        vectors = embed_texts(encoder, [p.dense_text() for p in upserts], policy or BatchPolicy())
        failpoint("apply.embedded")

        params = DenseParams(**manifest.get("dense", {}).get("params", {}))
        dense_path = gen_dir / meta.dense_file
        try:
            dense = DenseIndex.load(dense_path, params)
        except (RuntimeError, OSError) as exc:
            raise CorruptGenerationError(dense_path, f"unreadable: {exc}") from None
        if len(dense) != meta.vectors:
            raise CorruptGenerationError(
                dense_path, f"holds {len(dense)} vectors, the store recorded {meta.vectors}"
            )
        try:
            bm25 = BM25Index.open(gen_dir / BM25_DIR)
        except (ValueError, OSError) as exc:
            raise CorruptGenerationError(gen_dir / BM25_DIR, f"unreadable: {exc}") from None
        # Past every ordinal an interrupted apply may have left in tantivy.
        base = max(len(dense), bm25.num_docs(), store.next_ordinal())
        ordinals = list(range(base, base + len(upserts)))
        revision = meta.revision + 1
        dense_name = dense_file_name(revision)
        if base > len(dense):  # never alive; keeps FAISS ids equal to ordinals
            dense.add(np.zeros((base - len(dense), dense.dim), dtype=np.float32))
        if upserts:
            dense.add(vectors)
        write_atomic(gen_dir / dense_name, dense.save)
        failpoint("apply.dense_written")
        if upserts:
            bm25_writer = bm25.writer()
            BM25Index.add(bm25_writer, ordinals, upserts)
            bm25_writer.commit()
            bm25_writer.wait_merging_threads()
        failpoint("apply.bm25_committed")

        known = {k: v for k, v in meta.files.items() if k != meta.dense_file}
        files = {
            **{k: v for k, v in known.items() if not k.startswith(f"{BM25_DIR}/")},
            **component_checksums(gen_dir, known, under=BM25_DIR),
            dense_name: file_sha256(gen_dir / dense_name),
        }
        written = {rel: digest for rel, digest in files.items() if rel not in meta.files}
        verifier.remember(gen_dir, written)  # a reader in this process need not hash them
        new_meta = StoreMeta(
            revision=revision,
            journal_seq=everything[-1].seq,
            dense_file=dense_name,
            vectors=len(dense),
            files=files,
        )
        store.tombstone_ordinals(previous.values())
        store.append(ordinals, upserts)
        store.write_meta(new_meta)
        failpoint("apply.store_written")
        store.commit()
        failpoint("apply.store_committed")
        live = store.live_count()
        total = max(store.next_ordinal(), len(dense))
    finally:
        store.close()

    manifest.update(
        revision=revision,
        updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        doc_count=live,
        ordinals=total,
        tombstones=total - live,
        checksums=files,
        journal_seq=new_meta.journal_seq,
    )
    write_manifest(gen_dir, manifest)
    failpoint("apply.manifest_written")
    _remove_old_dense_files(gen_dir, keep={dense_name, meta.dense_file})
    upserted_ids = {p.id for p in upserts}
    return CommitStats(
        generation=gen_dir.name,
        revision=revision,
        upserted=len(upserts),
        replaced=sum(1 for pid in previous if pid in upserted_ids),
        deleted=sum(1 for pid in deletes if pid in previous),
        missing=sum(1 for pid in deletes if pid not in previous),
        missing_ids=tuple(dict.fromkeys(pid for pid in deletes if pid not in previous)),
        live=live,
        tombstones=total - live,
        seconds=time.perf_counter() - started,
        records=len(records),
        journal_seq=new_meta.journal_seq,
    )


def _remove_old_dense_files(gen_dir: Path, keep: set[str]) -> None:
    """FAISS files of older revisions: the current one and the one before it stay (a reader
    may be loading it right now; a reader that loses the race loads again)."""
    for path in gen_dir.iterdir():
        if DENSE_NAME.match(path.name) and path.name not in keep:
            with contextlib.suppress(OSError):
                path.unlink()


def void_unless_applied(gen_dir: Path, journal: Journal, seq: int) -> bool:
    """After a failed apply (the caller holds the writer lock and will not acknowledge
    record `seq`): cancel the record unless the failure came after it was committed.
    Returns True when it was cancelled. A crash skips this; the record is then applied
    by the next writer, entirely."""
    try:
        store = DocStore(gen_dir / DOCS_FILE)
        try:
            meta = store.meta()
        finally:
            store.close()
    except Exception:  # no readable store: the apply cannot have committed
        meta = None
    if meta is not None and meta.journal_seq >= seq:
        return False
    try:
        journal.void(seq)
    except Exception as exc:  # the record stays: applied, entirely, once the index is sound
        log.debug("could not cancel journal record #%d: %s", seq, exc)
        return False
    return True


def journal_floor(index_dir: Path) -> int:
    """The last journal record every generation on disk holds (0 if one predates the
    journal): records up to it can be trimmed, and any generation rolled back to still
    gets the writes it lacks."""
    floor: int | None = None
    for gen in list_generations(index_dir):
        try:
            store = DocStore(gen / DOCS_FILE)
            try:
                meta = store.meta()
            finally:
                store.close()
        except Exception:  # a damaged generation keeps every record
            return 0
        seq = 0 if meta is None else meta.journal_seq
        floor = seq if floor is None else min(floor, seq)
    return floor or 0


def trim_journal(index_dir: Path, journal: Journal) -> int:
    """Remove journal segments every generation on disk holds (caller holds the lock)."""
    return journal.trim(journal_floor(index_dir))


def publish_with_writes(
    index_dir: Path,
    gen_dir: Path,
    lock: WriterLock,
    encoder: Encoder | None,
    policy: BatchPolicy | None = None,
    *,
    force: bool = False,
    event: str = "publish",
) -> CommitStats:
    """Apply the journal records `gen_dir` lacks, pass the quality check, then serve it
    (replace CURRENT).

    Used by every command that publishes (build, compaction, rollback); `encoder` None
    loads the one the generation was built with, when there is anything to apply. With
    reference labels attached, the generation is scored first and refused
    (QualityRefusedError) when it scores worse than the served one, unless `force`;
    `event="rollback"` is never checked (the caller scores it once it serves, without
    the lock: `indexer.guard.record_rollback`).
    """
    if not lock.held:
        raise RuntimeError("publish_with_writes needs the index's writer lock")
    journal = Journal(index_dir)
    stats = apply_journal(gen_dir, journal, encoder, policy)
    failpoint("publish.writes_applied")
    if event != "rollback":  # the way back is never refused, nor delayed: see `rollback`
        check_before_publish(index_dir, gen_dir, encoder, force=force, event=event)
    publish(index_dir, gen_dir)
    failpoint("publish.published")
    trim_journal(index_dir, journal)
    return stats


class IndexWriter:
    """Buffered upserts and deletes against the served generation, applied by `commit`.

    Holds the index's writer lock from construction to `close` (a second writer gets
    WriterLockedError, after waiting up to `wait` seconds). Within one commit the last
    operation on an id wins. `commit` appends the operations to the journal as one
    record (durable from then on), then applies every record the served generation
    lacks. Changes not committed when the writer closes are discarded.

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
        wait: float | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self._lock = WriterLock(self.index_dir, timeout=wait)
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
        self.journal = Journal(self.index_dir)
        self._pending: dict[str, Product | None] = {}

    @property
    def pending(self) -> int:
        return len(self._pending)

    def upsert(self, products: Iterable[Product]) -> int:
        """Queue products to add or replace (by id); returns how many were queued.
        Raises ValueError for a product breaking `search.validation`'s rules."""
        n = 0
        for product in products:
            if not isinstance(product, Product):
                raise TypeError(f"upsert expects Product records, got {type(product).__name__}")
            product = check_product(product)
            self._pending.pop(product.id, None)  # keep operations in arrival order
            self._pending[product.id] = product
            n += 1
        return n

    def delete(self, product_ids: Iterable[str]) -> int:
        """Queue ids to delete; returns how many were queued (blank ids are skipped)."""
        n = 0
        for raw in product_ids:
            if not str(raw).strip():
                continue
            product_id = normalise_id(raw)
            self._pending.pop(product_id, None)
            self._pending[product_id] = None
            n += 1
        return n

    def discard(self) -> None:
        """Drop the queued operations."""
        self._pending.clear()

    def commit(self) -> CommitStats:
        """Journal the queued operations, then apply every record the served generation
        lacks."""
        if not self._lock.held:
            raise RuntimeError("this IndexWriter is closed")
        record = None
        if self._pending:
            ops: list[Op] = list(self._pending.items())
            record = self.journal.append(ops)
            self._pending.clear()
        gen_dir = current_generation(self.index_dir)
        try:
            stats = apply_journal(gen_dir, self.journal, self.encoder, self.policy)
        except BaseException:
            if record is not None:
                void_unless_applied(gen_dir, self.journal, record.seq)
            raise
        trim_journal(self.index_dir, self.journal)
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


def remove_stale_temporary_files(gen_dir: Path) -> None:
    """Temporary files a killed writer left in a generation (never read by anyone)."""
    for path in gen_dir.iterdir():
        if ".tmp-" in path.name and path.is_file():
            with contextlib.suppress(OSError):
                os.unlink(path)


__all__ = [
    "CommitStats",
    "IndexWriter",
    "WouldDropWritesError",
    "apply_journal",
    "publish_with_writes",
    "trim_journal",
]
