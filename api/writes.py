"""Document writes through the service: journaled first, then applied to the served index.

A write is appended to the index's journal and fsynced (`indexer.journal`): from then on
it survives any crash, and the service answers 200. It is then applied to the served
generation under the index's writer lock (`indexer.writer.apply_journal`) and the engine
reloaded, so the next search sees it. When another writer holds the lock for longer than
`write_lock_wait` (a rebuild or compaction runs for minutes), the answer is still 200,
with `pending: true`: the rebuild replays the write onto its new generation before
publishing it, and the applier thread of this service applies whatever is still pending
as soon as the lock frees.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tinyseek.indexer.journal import Journal, Op, live_records
from tinyseek.indexer.lock import WriterLock, WriterLockedError
from tinyseek.indexer.writer import (
    CommitStats,
    apply_journal,
    trim_journal,
    void_unless_applied,
)
from tinyseek.models.encoder import Encoder
from tinyseek.search.engine import Engine
from tinyseek.search.layout import current_generation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteResult:
    upserted: int
    deleted: int
    seq: int
    """The journal record holding the write."""
    pending: bool
    """True when the write is durable but not searchable yet (another writer holds the index)."""
    generation: str
    revision: int


class DocumentWriter:
    """Journals writes, applies them to the engine's index, and applies late ones later."""

    def __init__(self, engine: Engine, lock_wait: float = 1.0) -> None:
        self.engine = engine
        self.journal = Journal(engine.index_dir)
        self.lock_wait = lock_wait
        self._apply_lock = threading.Lock()
        self._wake = threading.Event()
        self.last_error: str | None = None
        """Why the last attempt to apply pending writes failed (None once one succeeds)."""

    def _encoder(self) -> Encoder:
        encoder = self.engine.encoder
        inner: Encoder | None = getattr(encoder, "inner", None)  # unwrap micro-batching
        return inner if inner is not None else encoder

    # -------------------------------------------------------------------- request side
    def upsert(self, ops: Sequence[Op]) -> WriteResult:
        return self._write(ops)

    def delete(self, product_id: str) -> WriteResult:
        """Delete one id; raises KeyError when no live (or pending) product has it."""
        if not self.exists(product_id):
            raise KeyError(product_id)
        return self._write([(product_id, None)])

    def exists(self, product_id: str) -> bool:
        """Whether the id is live once every journaled write is applied."""
        self.engine.reload_if_changed()
        generation = self.engine.generation
        live = generation.store.ordinal_of(product_id) is not None
        if self.journal.last_seq() > generation.journal_seq:
            for record in live_records(self.journal.records(after=generation.journal_seq)):
                for pid, product in record.ops:
                    if pid == product_id:
                        live = product is not None
        return live

    def _write(self, ops: Sequence[Op]) -> WriteResult:
        record = self.journal.append(ops)  # durable from here on
        upserted = sum(1 for _, p in ops if p is not None)
        deleted = len(ops) - upserted
        if self._apply(self.lock_wait, own_seq=record.seq) is None:
            self._wake.set()  # the applier takes over as soon as the lock frees
        generation = self.engine.generation
        return WriteResult(
            upserted=upserted,
            deleted=deleted,
            seq=record.seq,
            pending=generation.journal_seq < record.seq,
            generation=generation.name,
            revision=generation.revision,
        )

    def _apply(self, lock_wait: float, own_seq: int | None = None) -> CommitStats | None:
        """Apply every pending record to the served generation; None when another writer
        held the index for `lock_wait` seconds. A failure cancels the caller's own record
        (it will not be acknowledged) and is raised."""
        if not self._apply_lock.acquire(timeout=lock_wait):
            return None
        try:
            lock = WriterLock(self.engine.index_dir, timeout=lock_wait)
            try:
                lock.acquire()
            except WriterLockedError:
                return None
            try:
                gen_dir = current_generation(self.engine.index_dir)
                try:
                    stats = apply_journal(
                        gen_dir, self.journal, self._encoder(), verifier=self.engine.verifier
                    )
                except BaseException:
                    if own_seq is not None:
                        void_unless_applied(gen_dir, self.journal, own_seq)
                    raise
                trim_journal(self.engine.index_dir, self.journal)
            finally:
                lock.release()
        finally:
            self._apply_lock.release()
        try:
            self.engine.reload_if_changed()
        except Exception as exc:  # applied all the same; the watcher reports the reload
            log.warning("applied journal record(s), but reloading failed: %s", exc)
        return stats

    # ------------------------------------------------------------------ background side
    def pending(self) -> int:
        """Journaled writes not yet in the served generation."""
        after = self.engine.generation.journal_seq
        if self.journal.last_seq() <= after:
            return 0
        return len(live_records(self.journal.records(after=after)))

    def run_applier(self, stop: threading.Event, interval: float) -> None:
        """Apply pending writes (late ones, or another process's) until `stop` is set."""
        while not stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if stop.is_set():
                return
            try:
                self.engine.reload_if_changed()
                if self.journal.last_seq() <= self.engine.generation.journal_seq:
                    continue
                started = time.perf_counter()
                stats = self._apply(lock_wait=interval)
                if stats is None:
                    continue
                if stats.records:
                    log.info(
                        "applied %d pending journal records to %s (revision %d) in %.2f s",
                        stats.records,
                        stats.generation,
                        stats.revision,
                        time.perf_counter() - started,
                    )
                self.last_error = None
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                if message != self.last_error:
                    log.error("could not apply pending writes (will retry): %s", message)
                self.last_error = message

    def wake(self) -> None:
        self._wake.set()
