"""Build index generations: from products, from a catalog file (checkpointed), by compaction.

A catalog build runs in two phases under the index's writer lock:

1. embed: read the catalog in order and embed the products chunk by chunk;
   each chunk's vectors become a shard of the checkpoint (`indexer.checkpoint`).
   An interrupted job resumes here without re-embedding finished chunks.
2. assemble: read the catalog again (cheap next to embedding) into the document
   store and the BM25 index, load the shards into FAISS, write the manifest
   with checksums, fsync everything, rename the directory into place and
   publish it by replacing CURRENT. Rejects are written during this pass, so
   the rejects file is complete even for a resumed job.

Before publishing, the writes acknowledged after the catalog's snapshot are replayed
onto the new generation from the journal (`indexer.writer.publish_with_writes`): by
default the snapshot is the catalog file's modification time (an export holds the
writes made before it), or the moment the build started (`writes_since="start"`).
A build whose snapshot predates writes the journal no longer holds refuses to publish
(WouldDropWritesError) instead of dropping them.

Old generations are then garbage-collected, keeping the newest `keep` and the
served one.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import platform
import re
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from tinyseek import __version__
from tinyseek.checksums import file_sha256
from tinyseek.failpoints import failpoint
from tinyseek.indexer.checkpoint import BuildProgress, Checkpoint, ShardFeed
from tinyseek.indexer.embedding import DEFAULT_BATCH_SIZE, BatchPolicy, embed_texts
from tinyseek.indexer.generations import (
    collect_garbage,
    component_checksums,
    fsync_path,
    fsync_tree,
    generation_name,
    next_generation_number,
    verify_generation,
    write_manifest,
)
from tinyseek.indexer.journal import Journal
from tinyseek.indexer.lock import WriterLock
from tinyseek.indexer.prices import CatalogCurrency, currency_code
from tinyseek.indexer.readers import (
    DEFAULT_MAPPING,
    FieldMapping,
    Reject,
    Unmapped,
    count_rows,
)
from tinyseek.indexer.readers import read_catalog as read_catalog
from tinyseek.indexer.writer import publish_with_writes
from tinyseek.iteration import batched
from tinyseek.models.encoder import Encoder
from tinyseek.search.bm25 import BM25Index
from tinyseek.search.dense import DenseIndex, DenseKind, DenseParams, ExactTopK, recall_at_k
from tinyseek.search.engine import load_generation
from tinyseek.search.layout import (
    BM25_DIR,
    DENSE_FILE,
    DOCS_FILE,
    ENCODER_DIR,
    FORMAT_VERSION,
    MANIFEST,
    current_generation,
    read_manifest,
)
from tinyseek.search.store import DocStore, StoreMeta
from tinyseek.search.types import FusionWeights, Product
from tinyseek.search.validation import check_product

if TYPE_CHECKING:
    from tinyseek.indexer.ray_embed import RayOptions

log = logging.getLogger(__name__)

DEFAULT_KEEP = 3
DEFAULT_CHECKPOINT_ROWS = 4096
_STORE_CHUNK = 2048
TRAIN_SAMPLE = 100_000
"""Vectors a quantising index (hnsw_sq8, ivfpq) trains on, spread evenly over the catalog."""
RECALL_SAMPLE = 200
RECALL_K = 10


def training_stride(total: int, sample: int = TRAIN_SAMPLE) -> int:
    """Every how many vectors one joins the training sample (positions 0, s, 2s, ...): by
    position in the catalog, so any split into shards or blocks trains the same quantiser."""
    return max(1, -(-total // sample))


faiss: Any = importlib.import_module("faiss")


class NoProductsError(ValueError):
    """The catalog yielded no valid product; nothing was published."""

    exit_code = 3  # tinyseek.errors.EXIT_NO_PRODUCTS


@dataclass(frozen=True)
class BuildStats:
    generation: Path
    products: int
    seconds: float
    rejected: int = 0
    reject_reasons: Mapping[str, int] = field(default_factory=dict)
    resumed_from: int = 0
    """Products already embedded by an interrupted run when this one started."""
    embedded: int = 0
    """Products embedded by this run."""
    removed: tuple[Path, ...] = ()
    """Generations and temporary directories garbage-collected after publishing."""


def library_versions() -> dict[str, str]:
    """tinyseek's version and those of the libraries an index depends on (when installed)."""
    names = ("faiss-cpu", "tantivy", "numpy", "onnxruntime", "torch", "sentence-transformers")
    versions = {"python": platform.python_version(), "tinyseek": __version__}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def encoder_source(encoder: Encoder) -> str:
    """How to load this encoder again: 'bundled' when its artifact is copied into the index."""
    return "bundled" if getattr(encoder, "artifact_dir", None) else encoder.name


def encoder_manifest(encoder: Encoder) -> dict[str, Any]:
    return {"name": encoder.name, "source": encoder_source(encoder), "dim": encoder.dim}


def default_fusion(encoder: Encoder) -> FusionWeights:
    """The fusion weights an adapted encoder artifact was tuned with, else the defaults."""
    tuned = getattr(encoder, "manifest", {}).get("fusion")
    return FusionWeights.from_dict(tuned) if tuned else FusionWeights()


def reject_kind(reason: str) -> str:
    """A reason without its specifics, for the summary ('duplicate id '7'' -> 'duplicate id')."""
    return re.split(r"[:,('\"]", reason, maxsplit=1)[0].strip() or reason


def set_threads(threads: int | None) -> None:
    if threads is not None:
        faiss.omp_set_num_threads(max(1, threads))


def add_deterministic(dense: DenseIndex, vectors: np.ndarray) -> None:
    """Add to an HNSW graph on one thread.

    FAISS links HNSW nodes in parallel in an order that varies run to run, so a
    multi-threaded build of the same vectors gives a different graph and
    slightly different approximate results; one thread makes a rebuild (or a
    resumed build) reproduce the same index, at the cost of a slower build.
    """
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        dense.add(vectors)
    finally:
        faiss.omp_set_num_threads(threads)


_DENSE_DTYPES = {"flat": "float32", "hnsw": "float32", "hnsw_sq8": "uint8", "ivfpq": "pq8"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class GenerationWriter:
    """Writes one generation into INDEX_DIR/.tmp-gen-NNNNNN, then renames it into place.

    Products and their vectors are added in the same order (ordinal = position);
    `finish` checks the two counts agree before anything becomes visible.
    """

    def __init__(
        self,
        index_dir: Path,
        name: str,
        dim: int,
        expected_size: int | None,
        params: DenseParams,
        threads: int | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.name = name
        self.params = params
        self.tmp = index_dir / f".tmp-{name}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        self.store = DocStore(self.tmp / DOCS_FILE, writable=True, create=True)
        self.bm25 = BM25Index.create(self.tmp / BM25_DIR)
        # One indexing thread: documents land in segments in ordinal order, so
        # equal BM25 scores rank the same way in every build of the same catalog.
        self._bm25_writer = self.bm25.writer(threads=1)
        # Unknown size: stream into a flat index and decide on the kind at the end.
        self._streaming = expected_size is None
        size = 0 if expected_size is None else expected_size
        self.dense = DenseIndex.create(
            dim, size, DenseParams(kind=DenseKind.FLAT.value) if self._streaming else params
        )
        self.count = 0
        self.recall: dict[str, Any] | None = None
        """recall@10 against exact search, when measured (`measure_recall`)."""

    @property
    def needs_training(self) -> bool:
        return self.dense.needs_training

    def train(self, sample: np.ndarray) -> None:
        """Train a quantising dense index (see `training_stride`) before adding vectors."""
        self.dense.train(sample)

    def add_products(self, products: list[Product]) -> None:
        products = [check_product(p) for p in products]
        ordinals = list(range(self.count, self.count + len(products)))
        self.store.append(ordinals, products)
        BM25Index.add(self._bm25_writer, ordinals, products)
        self.count += len(products)

    def products_done(self) -> None:
        """The calling thread added its last products: commit them and close its store
        connection (SQLite connections are per thread; `finish` writes the meta on its own).
        Nothing is visible before `finish` renames the directory into place."""
        self.store.commit()
        self.store.close()

    def add_vectors(self, vectors: np.ndarray) -> None:
        if self.dense.needs_training:
            raise RuntimeError("the dense index quantises: train it before adding vectors")
        if self.dense.is_hnsw:
            add_deterministic(self.dense, vectors)
        else:
            self.dense.add(vectors)

    def finish(
        self, manifest: dict[str, Any], artifact_dir: Path | None = None, journal_seq: int = 0
    ) -> Path:
        """Commit every component, write the manifest, fsync, rename into place.

        `journal_seq`: the last journal record the products already reflect.
        """
        if len(self.dense) != self.count:
            raise RuntimeError(
                f"{self.count} products but {len(self.dense)} vectors; generation not written"
            )
        self._bm25_writer.commit()
        self._bm25_writer.wait_merging_threads()
        if self._streaming and self.params.kind_for(self.count) is not DenseKind.FLAT:
            flat = self.dense
            self.dense = DenseIndex.create(flat.dim, self.count, self.params)
            if self.dense.needs_training:
                self.dense.train(flat.vectors(range(0, self.count, training_stride(self.count))))
            for start in range(0, self.count, 8192):
                vectors = flat.vectors(range(start, min(start + 8192, self.count)))
                add_deterministic(self.dense, vectors)
        self.dense.save(self.tmp / DENSE_FILE)
        if artifact_dir is not None:
            shutil.copytree(artifact_dir, self.tmp / ENCODER_DIR)
        checksums = component_checksums(self.tmp)
        self.store.write_meta(
            StoreMeta(
                revision=0,
                journal_seq=journal_seq,
                dense_file=DENSE_FILE,
                vectors=len(self.dense),
                files=checksums,
            )
        )
        self.store.commit()
        self.store.checkpoint()
        self.store.close()
        manifest = {
            "format_version": FORMAT_VERSION,
            "generation": self.name,
            "revision": 0,
            "created_at": _now(),
            "doc_count": self.count,
            "ordinals": self.count,
            "tombstones": 0,
            "dense": {
                "kind": self.dense.kind,
                "dtype": _DENSE_DTYPES[self.dense.kind],
                "params": self.params.__dict__,
                **({"recall": self.recall} if self.recall else {}),
            },
            "bm25": {"boosts": self.bm25.boosts},
            "versions": library_versions(),
            **manifest,
            "journal_seq": journal_seq,
            "checksums": checksums,
        }
        write_manifest(self.tmp, manifest)
        fsync_tree(self.tmp)
        final = self.index_dir / self.name
        os.replace(self.tmp, final)
        fsync_path(self.index_dir)
        return final

    def abort(self) -> None:
        self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _artifact(encoder: Encoder) -> Path | None:
    artifact = getattr(encoder, "artifact_dir", None)
    return Path(artifact) if artifact else None


def _progress_bar(enabled: bool, total: int | None, initial: int = 0, unit: str = "rows") -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total, initial=initial, unit=unit, desc="embedding", mininterval=1.0, file=sys.stderr
    )


def build_index(
    products: Iterable[Product],
    index_dir: str | Path,
    encoder: Encoder,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dense_params: DenseParams | None = None,
    fusion: FusionWeights | None = None,
    progress: bool = False,
    keep: int | None = DEFAULT_KEEP,
    token_budget: int | None = None,
    threads: int | None = None,
    lock_wait: float | None = None,
    force: bool = False,
    currency: str | CatalogCurrency | None = None,
) -> BuildStats:
    """Write a new generation from products (streamed, not checkpointed), then publish it.

    The products are taken as the catalog's state when the build starts: writes
    acknowledged after that are replayed onto the new generation before it is published.
    With reference labels attached, a generation that scores worse than the served one
    is refused (QualityRefusedError) unless `force` (`indexer.quality`). `currency` is the
    ISO code of the products' prices (shown by the search page), or the `CatalogCurrency`
    that `read_catalog` fills as it reads them. For a catalog file, `build_catalog` adds
    rejects and resumable checkpoints.
    """
    started = time.perf_counter()
    prices = currency if isinstance(currency, CatalogCurrency) else CatalogCurrency(currency)
    index_dir = Path(index_dir)
    policy = BatchPolicy(batch_size, token_budget or BatchPolicy().token_budget)
    params = dense_params or DenseParams()
    set_threads(threads)
    with WriterLock(index_dir, timeout=lock_wait) as lock:
        snapshot = Journal(index_dir).last_seq()
        name = generation_name(next_generation_number(index_dir))
        writer = GenerationWriter(index_dir, name, encoder.dim, None, params, threads)
        bar = _progress_bar(progress, None, unit="products")
        try:
            for chunk in batched(products, DEFAULT_CHECKPOINT_ROWS):
                writer.add_products(chunk)
                writer.add_vectors(embed_texts(encoder, [p.dense_text() for p in chunk], policy))
                if bar is not None:
                    bar.update(len(chunk))
            if writer.count == 0:
                raise NoProductsError("the catalog has no valid products; nothing was indexed")
            final = writer.finish(
                {
                    "encoder": encoder_manifest(encoder),
                    "fusion": (fusion or default_fusion(encoder)).to_dict(),
                    **_currency_entry(prices.code),
                },
                _artifact(encoder),
                journal_seq=snapshot,
            )
        except BaseException:
            writer.abort()
            raise
        finally:
            if bar is not None:
                bar.close()
        failpoint("build.generation_written")
        stats = publish_with_writes(index_dir, final, lock, encoder, policy, force=force)
        removed = collect_garbage(index_dir, keep, held=lock) if keep else []
        count = stats.live
    return BuildStats(
        final, count, time.perf_counter() - started, embedded=count, removed=tuple(removed)
    )


def training_sample(shards: Iterable[np.ndarray], total: int) -> np.ndarray:
    """The vectors at positions 0, s, 2s, ... (s = `training_stride(total)`) of a stream."""
    stride, start, parts = training_stride(total), 0, []
    for vectors in shards:
        parts.append(vectors[(-start) % stride :: stride])
        start += len(vectors)
    return np.concatenate(parts) if parts else np.empty((0, 0), dtype=np.float32)


def measure_recall(
    dense: DenseIndex,
    shards: Callable[[], Iterable[np.ndarray]],
    total: int,
    queries: np.ndarray | None = None,
    k: int = RECALL_K,
) -> dict[str, Any]:
    """recall@k of `dense` against exact inner-product search over the same float32 vectors
    (streamed by `shards()`, in ordinal order).

    Queries: the given query vectors, else RECALL_SAMPLE products' own vectors (a seeded
    sample), each with itself left out of both rankings.
    """
    own = queries is None
    if queries is None:
        rng = np.random.default_rng(0)
        picks = np.sort(rng.choice(total, size=min(RECALL_SAMPLE, total), replace=False))
        queries = np.empty((len(picks), dense.dim), dtype=np.float32)
        start = 0
        for vectors in shards():
            inside = picks[(picks >= start) & (picks < start + len(vectors))]
            queries[np.searchsorted(picks, inside)] = vectors[inside - start]
            start += len(vectors)
    depth = k + 1 if own else k
    exact = ExactTopK(queries, depth)
    for vectors in shards():
        exact.add(vectors)
    truth, found = exact.ids(), dense.search_batch(queries, depth)
    if own:
        truth = np.array([[i for i in row if i != p][:k] for row, p in zip(truth, picks)])
        found = np.array([[i for i in row if i != p][:k] for row, p in zip(found, picks)])
    return {
        f"at_{k}": round(recall_at_k(found, truth), 4),
        "queries": "products' own vectors" if own else "query texts",
        "sample": len(queries),
    }


def _currency_entry(code: str | None) -> dict[str, str]:
    """The manifest's `currency`: the ISO code of the catalog's prices, absent if unknown."""
    return {} if code is None else {"currency": code}


def _mapping_json(
    mapping: FieldMapping, currency: str | None = None, unmapped: Unmapped = "all"
) -> dict[str, list[str]]:
    """What decides how rows become products (a resumed build must read them alike)."""
    described = {k: list(v) for k, v in sorted(mapping.items())}
    if currency is not None:
        described["(declared currency)"] = [currency]
    if unmapped != "all":
        kept = [unmapped] if isinstance(unmapped, str) else list(unmapped)
        described["(unmapped columns kept)"] = kept
    return described


def build_catalog(
    catalog: str | Path,
    index_dir: str | Path,
    encoder: Encoder,
    *,
    mapping: FieldMapping = DEFAULT_MAPPING,
    encoding: str | None = None,
    fmt: str | None = None,
    currency: str | None = None,
    unmapped: Unmapped = "all",
    resume: bool = False,
    policy: BatchPolicy | None = None,
    checkpoint_rows: int = DEFAULT_CHECKPOINT_ROWS,
    rejects_path: str | Path | None = None,
    keep: int | None = DEFAULT_KEEP,
    dense_params: DenseParams | None = None,
    fusion: FusionWeights | None = None,
    threads: int | None = None,
    progress: bool = False,
    lock_wait: float | None = None,
    writes_since: str = "catalog",
    force: bool = False,
    recall_queries: Sequence[str] | None = None,
    ray: RayOptions | None = None,
) -> BuildStats:
    """Index a catalog file into a new generation and publish it; resumable with `resume=True`.

    Writes acknowledged after the catalog's snapshot are replayed onto the new
    generation before it is published: the snapshot is the file's modification time
    (`writes_since="catalog"`), or the start of this build (`"start"`: the catalog holds
    every earlier write).

    Raises WriterLockedError when another writer holds the index (after waiting up to
    `lock_wait` seconds), CheckpointMismatchError when resuming a checkpoint of another
    catalog or encoder, NoProductsError when no row is valid (nothing is published),
    WouldDropWritesError when the journal no longer holds writes made after the snapshot,
    QualityRefusedError when the index's reference labels score the new generation worse
    than the served one and `force` is False (the generation stays unpublished, and the
    checkpoint with it: `resume=True, force=True` publishes it without rebuilding).

    `ray`: embed on a Ray cluster (`indexer.ray_embed`, the `ray` extra) instead of here.

    An approximate dense index's recall@10 against exact search is measured on
    `recall_queries` (else on a sample of the products' own vectors) and recorded in the
    manifest under dense.recall.
    """
    if writes_since not in ("catalog", "start"):
        raise ValueError(f"writes_since must be 'catalog' or 'start', got {writes_since!r}")
    started = time.perf_counter()
    catalog = Path(catalog)
    index_dir = Path(index_dir)
    policy = policy or BatchPolicy()
    params = dense_params or DenseParams()
    if checkpoint_rows < 1:
        raise ValueError(f"checkpoint_rows must be >= 1, got {checkpoint_rows}")
    if not catalog.is_file():
        raise FileNotFoundError(f"catalog not found: {catalog}")
    set_threads(threads)

    declared = None if currency is None else currency_code(currency)
    passes: list[CatalogCurrency] = []  # one per read of the catalog (stages read it at once)

    def catalog_currency() -> str | None:
        """The catalog's currency: every complete read finds the same (the first priced row
        sets it, or the declared one)."""
        return next((p.code for p in reversed(passes) if p.code is not None), declared)

    def items() -> Iterator[Product | Reject]:
        prices = CatalogCurrency(declared)
        passes.append(prices)
        return read_catalog(
            catalog, mapping, encoding=encoding, fmt=fmt, currency=prices, unmapped=unmapped
        )

    snapshot_time = catalog.stat().st_mtime if writes_since == "catalog" else time.time()
    with WriterLock(index_dir, timeout=lock_wait) as lock:
        journal = Journal(index_dir)
        snapshot = min(journal.position_at(snapshot_time), journal.last_seq())
        checkpoint = Checkpoint(index_dir)
        wanted = BuildProgress(
            catalog=str(catalog),
            catalog_sha256=file_sha256(catalog),
            encoder=encoder.name,
            dim=encoder.dim,
            mapping=_mapping_json(mapping, declared, unmapped),
        )
        state = checkpoint.load() if resume else None
        if state is not None:
            state.check_matches(wanted)
            log.info(
                "resuming: %d products already embedded (%d rows consumed, %d shards)",
                state.products_embedded,
                state.rows_consumed,
                len(state.shards),
            )
        else:
            if resume:
                log.info("no checkpoint to resume from; starting a fresh build")
            elif checkpoint.exists():
                log.info("discarding the checkpoint of an earlier, unfinished build (see --resume)")
            state = wanted
            checkpoint.start(state)
        resumed_from = state.products_embedded

        def embed_here(feed: ShardFeed) -> None:
            _embed_phase(items(), encoder, policy, feed, state, checkpoint_rows, progress)

        embed: Callable[[ShardFeed], None] = embed_here
        if ray is not None:
            from tinyseek.indexer.ray_embed import ray_embed_stage

            embed = ray_embed_stage(items, encoder, policy, checkpoint, checkpoint_rows, ray)
        embedded = 0

        final = _finished_generation(index_dir, state) if state.embedded else None
        with ExitStack() as stack:
            rejects_file: IO[str] | None = None
            if rejects_path is not None:
                rejects_file = stack.enter_context(Path(rejects_path).open("w", encoding="utf-8"))
            if final is None:
                final, rejects, embedded = _build_phase(
                    items, index_dir, encoder, embed, checkpoint, state, params, fusion,
                    threads, rejects_file, catalog, snapshot, recall_queries, catalog_currency,
                )  # fmt: skip
            else:
                log.info(
                    "%s was already assembled before the interruption; publishing it", final.name
                )
                rejects = _count_rejects(items(), rejects_file)
        failpoint("build.generation_written")
        stats = publish_with_writes(index_dir, final, lock, encoder, policy, force=force)
        checkpoint.clear()
        removed = collect_garbage(index_dir, keep, held=lock) if keep else []
        products = stats.live
    return BuildStats(
        final,
        products,
        time.perf_counter() - started,
        rejected=sum(rejects.values()),
        reject_reasons=dict(rejects.most_common()),
        resumed_from=resumed_from,
        embedded=embedded,
        removed=tuple(removed),
    )


def _embed_phase(
    items: Iterator[Product | Reject],
    encoder: Encoder,
    policy: BatchPolicy,
    feed: ShardFeed,
    state: BuildProgress,
    checkpoint_rows: int,
    progress: bool,
) -> None:
    total = count_rows(state.catalog) if progress else None
    bar = _progress_bar(progress, total, initial=state.rows_consumed)
    texts: list[str] = []
    consumed = 0

    def flush() -> None:
        feed.check()
        feed.publish(embed_texts(encoder, texts, policy), consumed)
        texts.clear()

    try:
        for item in items:
            consumed += 1
            if consumed <= state.rows_consumed:
                continue
            if isinstance(item, Product):
                texts.append(item.dense_text())
            if bar is not None:
                bar.update(1)
            if len(texts) >= checkpoint_rows:
                flush()
        if texts:
            flush()
    finally:
        if bar is not None:
            bar.close()
    feed.finish(consumed)


def _finished_generation(index_dir: Path, state: BuildProgress) -> Path | None:
    """The generation this job already renamed into place before an interruption, if sound."""
    if state.generation is None:
        return None
    gen = index_dir / state.generation
    if not (gen / MANIFEST).is_file():
        return None
    manifest = read_manifest(gen)
    if manifest.get("build", {}).get("job_id") != state.job_id or verify_generation(gen):
        return None
    return gen


def _write_reject(rejects_file: IO[str] | None, reject: Reject, counts: Counter[str]) -> None:
    """Record a reject in the file and in the per-reason counts (never all of them in memory)."""
    counts[reject_kind(reject.reason)] += 1
    if rejects_file is not None:
        rejects_file.write(reject.to_json() + "\n")


def _count_rejects(items: Iterator[Product | Reject], rejects_file: IO[str] | None) -> Counter[str]:
    counts: Counter[str] = Counter()
    for item in items:
        if isinstance(item, Reject):
            _write_reject(rejects_file, item, counts)
    return counts


def _yield_to_the_encoder() -> None:
    """Lower this thread's scheduling priority (Linux: per thread), so the encoder's threads
    keep the cores while they have work and this stage fills the gaps; the stages then
    finish soon after the embedding instead of slowing every encoder batch down."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _build_phase(
    items: Callable[[], Iterator[Product | Reject]],
    index_dir: Path,
    encoder: Encoder,
    embed: Callable[[ShardFeed], None],
    checkpoint: Checkpoint,
    state: BuildProgress,
    params: DenseParams,
    fusion: FusionWeights | None,
    threads: int | None,
    rejects_file: IO[str] | None,
    catalog: Path,
    journal_seq: int,
    recall_queries: Sequence[str] | None = None,
    currency: Callable[[], str | None] = lambda: None,
) -> tuple[Path, Counter[str], int]:
    """Embed what the checkpoint lacks (`embed`, on this thread) while two threads assemble
    the generation: one adds the products to the store and BM25, the other adds each shard's
    vectors to the dense index as soon as the shard is on disk, in catalog order (so the
    graph is the one a sequential build makes). The dense index's kind is chosen from the
    catalog's row count, recorded in the checkpoint so a resumed job chooses the same.
    `currency()` is the catalog's currency once every row was read."""
    if state.expected_rows is None:
        state.expected_rows = count_rows(catalog)
    if state.generation is None or (index_dir / state.generation).exists():
        state.generation = generation_name(next_generation_number(index_dir))
    checkpoint.save(state)
    writer = GenerationWriter(
        index_dir, state.generation, encoder.dim, state.expected_rows, params, threads
    )
    feed = ShardFeed(checkpoint, state, encoder.dim)
    rejects: Counter[str] = Counter()

    clock: dict[str, float] = {}

    def add_products() -> None:
        _yield_to_the_encoder()
        begin = time.perf_counter()
        chunk: list[Product] = []
        for item in items():
            if feed.stopped:
                return
            if isinstance(item, Reject):
                _write_reject(rejects_file, item, rejects)
                continue
            chunk.append(item)
            if len(chunk) >= _STORE_CHUNK:
                writer.add_products(chunk)
                chunk = []
        if chunk:
            writer.add_products(chunk)
        writer.products_done()
        clock["store and BM25"] = time.perf_counter() - begin

    def add_vectors() -> None:
        _yield_to_the_encoder()
        begin, busy = time.perf_counter(), 0.0
        if writer.needs_training:
            feed.wait_finished()
            started = time.perf_counter()
            writer.train(training_sample(feed.stored(), state.products_embedded))
            busy += time.perf_counter() - started
        for vectors in feed:
            started = time.perf_counter()
            writer.add_vectors(vectors)
            busy += time.perf_counter() - started
        clock["dense index (busy)"] = busy
        clock["dense index (until done)"] = time.perf_counter() - begin

    try:
        with ThreadPoolExecutor(2, thread_name_prefix="assemble") as pool:
            stages = [pool.submit(feed.guard, add_products), pool.submit(feed.guard, add_vectors)]
            begin = time.perf_counter()
            try:
                if not state.embedded:
                    embed(feed)
                clock["embedding"] = time.perf_counter() - begin
            except BaseException:
                feed.stop()
                raise
            finally:
                feed.finish_if_embedded()
                for stage in stages:
                    stage.exception()  # wait; a failed stage's error is in feed.error
        feed.check()
        expected = state.products_embedded
        if writer.count == 0:
            raise NoProductsError(
                f"{catalog} has no valid products ({sum(rejects.values())} rows rejected); "
                "nothing was published"
            )
        if writer.count != expected:
            raise RuntimeError(
                f"{catalog} now yields {writer.count} products but {expected} were embedded"
            )
        if not writer.dense.is_exact:
            started = time.perf_counter()
            queries = encoder.encode_queries(list(recall_queries)) if recall_queries else None
            writer.recall = measure_recall(writer.dense, feed.stored, expected, queries)
            log.info(
                "dense %s recall@%d against exact search: %.4f (%d %s, %.1f s)",
                writer.dense.kind, RECALL_K, writer.recall[f"at_{RECALL_K}"],
                writer.recall["sample"], writer.recall["queries"], time.perf_counter() - started,
            )  # fmt: skip
        final = writer.finish(
            {
                "encoder": encoder_manifest(encoder),
                "fusion": (fusion or default_fusion(encoder)).to_dict(),
                **_currency_entry(currency()),
                "build": {
                    "job_id": state.job_id,
                    "catalog": str(catalog),
                    "catalog_sha256": state.catalog_sha256,
                    "rejected": sum(rejects.values()),
                    "shards": len(state.shards),
                },
            },
            _artifact(encoder),
            journal_seq=journal_seq,
        )
        clock["from start to written"] = time.perf_counter() - begin
        log.info("build stages, seconds: %s", ", ".join(f"{k} {v:.1f}" for k, v in clock.items()))
    except BaseException:
        writer.abort()
        raise
    return final, rejects, feed.encoded


def compact(
    index_dir: str | Path,
    keep: int | None = DEFAULT_KEEP,
    threads: int | None = None,
    lock_wait: float | None = None,
    encoder: Encoder | None = None,
    force: bool = False,
) -> BuildStats:
    """Write the served generation's live products into a fresh generation without tombstones.

    Vectors are copied from the dense index, not re-embedded; the encoder
    artifact (if bundled) and the settings carry over. Writes the served generation
    does not hold yet are applied to the new one before it is published (embedded with
    `encoder`, by default the one the index was built with).
    """
    started = time.perf_counter()
    index_dir = Path(index_dir)
    set_threads(threads)
    with WriterLock(index_dir, timeout=lock_wait) as lock:
        source = current_generation(index_dir)
        generation = load_generation(source)
        manifest = generation.manifest
        params = DenseParams(**manifest.get("dense", {}).get("params", {}))
        store = generation.store
        dense = generation.dense
        live = generation.live_count
        name = generation_name(next_generation_number(index_dir))
        writer = GenerationWriter(index_dir, name, dense.dim, live, params, threads)
        try:
            if writer.needs_training:
                ordinals = np.flatnonzero(generation.alive)
                writer.train(dense.vectors(ordinals[:: training_stride(len(ordinals))]))
            for chunk in batched(store.iter_live(), _STORE_CHUNK):
                writer.add_products([p for _, p in chunk])
                writer.add_vectors(dense.vectors([o for o, _ in chunk]))
            if writer.count == 0:
                raise NoProductsError(f"{source} has no live products; nothing to compact")
            artifact = source / ENCODER_DIR
            final = writer.finish(
                {
                    "encoder": manifest["encoder"],
                    "fusion": manifest.get("fusion", FusionWeights().to_dict()),
                    **_currency_entry(manifest.get("currency")),
                    "bm25": manifest.get("bm25", {}),
                    "compacted_from": {
                        "generation": source.name,
                        "revision": generation.revision,
                    },
                },
                artifact if artifact.is_dir() else None,
                journal_seq=generation.journal_seq,
            )
        except BaseException:
            writer.abort()
            raise
        finally:
            store.close()
        failpoint("compact.generation_written")
        stats = publish_with_writes(index_dir, final, lock, encoder, force=force)
        removed = collect_garbage(index_dir, keep, held=lock) if keep else []
    return BuildStats(final, stats.live, time.perf_counter() - started, removed=tuple(removed))


__all__ = [
    "BuildStats",
    "GenerationWriter",
    "NoProductsError",
    "build_catalog",
    "build_index",
    "compact",
]
