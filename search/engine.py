"""`Engine`: the library facade. Open an index directory, search it."""

from __future__ import annotations

import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from tinyseek.models.encoder import Encoder, load_encoder
from tinyseek.search.bm25 import BM25Index, content_words, coverage, query_tokens, words
from tinyseek.search.cache import QueryCache
from tinyseek.search.dense import DenseIndex, DenseParams, VectorSearch
from tinyseek.search.facets import FacetIndex, FacetRequest, count_facets
from tinyseek.search.filters import FilterColumns, Filters
from tinyseek.search.fusion import QuerySignals, Ranked, fuse_adaptive, fuse_convex, fuse_rrf
from tinyseek.search.highlight import Highlighter
from tinyseek.search.integrity import FileVerifier, PrivateCopies, check_files
from tinyseek.search.layout import (
    BM25_DIR,
    DENSE_FILE,
    DOCS_FILE,
    ENCODER_DIR,
    CorruptGenerationError,
    current_generation,
    read_manifest,
    served_generation_name,
)
from tinyseek.search.matching import Retrieved, match_set, noise_level, order
from tinyseek.search.shards import ShardedDense
from tinyseek.search.spelling import Speller, english_words
from tinyseek.search.store import DocStore
from tinyseek.search.synonyms import SYNONYMS_FILE, Synonyms, SynonymsFile
from tinyseek.search.types import (
    FusionMethod,
    FusionWeights,
    Hit,
    SearchMode,
    SearchPage,
    SortOrder,
)

MAX_QUERY_CHARS = 10_000
DEFAULT_CANDIDATES = 100
LEXICAL_THREADS = 2


def clean_query(query: object) -> str:
    """Validate user text: a non-empty string; control characters become spaces."""
    if not isinstance(query, str):
        raise ValueError(f"query must be a string, got {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in query)
    text = " ".join(text.split())
    if not text:
        raise ValueError("query is empty")
    return text


@dataclass
class Generation:
    """Everything one published generation needs to answer queries."""

    path: Path
    manifest: dict[str, Any]
    bm25: BM25Index
    dense: VectorSearch
    store: DocStore
    alive: np.ndarray
    columns: FilterColumns
    ordinal_ids: np.ndarray
    speller: Speller | None
    """None for an index built before the store kept a vocabulary."""
    revision: int = 0
    """In-place commits in this state (the store's meta; the manifest's for older stores)."""
    journal_seq: int = 0
    """The last journal record this state holds (`indexer.journal`)."""
    files: dict[str, str] = field(default_factory=dict)
    """sha256 of the generation's immutable files, as this state recorded them."""
    copies: PrivateCopies | None = None
    """The private copies this generation maps, when it owns them."""

    @property
    def name(self) -> str:
        return self.path.name

    # A loaded generation never changes (updates load a new one), so these are
    # computed once instead of scanning the catalog on every query.
    @cached_property
    def live_count(self) -> int:
        return int(self.alive.sum())

    @cached_property
    def fusion(self) -> FusionWeights:
        """The index's default hybrid weights (manifest), parsed once."""
        return FusionWeights.from_dict(self.manifest.get("fusion", {}))

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """Live and matching documents, or None when every document qualifies."""
        if filters is None or filters.is_empty:
            return None if self.live_count == len(self.alive) else self.alive
        keep = self.alive & self.columns.mask(filters)
        return None if bool(keep.all()) else keep


def load_generation(
    gen_dir: Path,
    previous: Generation | None = None,
    verifier: FileVerifier | None = None,
    copies: PrivateCopies | None = None,
    sharded: ShardedDense | None = None,
) -> Generation:
    """Load and verify a generation for reading (sharing what it can with `previous`, the
    one it replaces); raises CorruptGenerationError naming the file that fails.

    With `sharded`, the vectors are those shards (cut from this very state; ValueError
    otherwise) and the generation's own FAISS file is neither read nor checked.

    The store is read first, in one read transaction: its meta names the revision, the
    FAISS file of that state and the checksum of every other file (`search.integrity`).
    A writer commits the other way round (new FAISS file and tantivy segments first, the
    store last), so the indexes loaded here hold every product the store calls alive;
    tantivy documents of a later, not yet committed update are masked out as not alive.
    tantivy's files are served from verified private copies (`copies`; see
    `search.integrity.PrivateCopies`), so nothing in the index directory can change or
    truncate what this generation maps.
    """
    verifier = verifier or FileVerifier()
    owned = copies is None
    copies = copies or PrivateCopies()
    manifest = read_manifest(gen_dir)
    docs = gen_dir / DOCS_FILE
    if not docs.is_file():
        raise CorruptGenerationError(docs, "missing")
    same_store = (
        previous is not None
        and previous.path == gen_dir
        and previous.store.identity is not None
        and previous.store.identity == _inode(docs)
    )
    store = previous.store if previous is not None and same_store else DocStore(docs)
    try:
        if not same_store and (problem := store.quick_check()):
            raise CorruptGenerationError(docs, f"fails SQLite's quick_check: {problem}")
        with store.snapshot():
            meta = store.meta()
            size = 0 if meta is None else meta.vectors
            alive, ids, columns = store.load_columns(size=size)
            vocabulary = store.vocabulary()
    except sqlite3.DatabaseError as exc:
        raise CorruptGenerationError(docs, f"unreadable: {exc}") from None
    if meta is None:  # written before the meta table: the manifest has the checksums
        files = {
            rel: digest
            for rel, digest in manifest.get("checksums", {}).items()
            if not rel.startswith(DOCS_FILE)
        }
        dense_path, revision, journal_seq = gen_dir / DENSE_FILE, manifest.get("revision", 0), 0
    else:
        files = meta.files
        dense_path, revision, journal_seq = (
            gen_dir / meta.dense_file,
            meta.revision,
            meta.journal_seq,
        )
    if sharded is not None:
        cut = sharded.shard_set
        if (cut.generation, cut.revision) != (gen_dir.name, int(revision)):
            raise ValueError(
                f"the shards at {cut.folder} were cut from {cut.generation} revision "
                f"{cut.revision}, the index serves {gen_dir.name} revision {revision}: "
                "cut them again (tinyseek shard)"
            )
        files = {k: v for k, v in files.items() if k != dense_path.name}
    bm25_prefix = f"{BM25_DIR}/"
    verifier.check(gen_dir, {k: v for k, v in files.items() if not k.startswith(bm25_prefix)})

    dense: VectorSearch
    if sharded is not None:
        dense = sharded
    else:
        dense_params = DenseParams(**manifest.get("dense", {}).get("params", {}))
        try:
            dense = DenseIndex.load(dense_path, dense_params)
        except (RuntimeError, OSError) as exc:
            raise CorruptGenerationError(dense_path, f"unreadable: {exc}") from None
    if meta is not None and len(dense) != meta.vectors:
        raise CorruptGenerationError(
            dense_path, f"holds {len(dense)} vectors, the store recorded {meta.vectors}"
        )
    if len(dense) < len(alive):
        raise CorruptGenerationError(
            dense_path, f"holds {len(dense)} vectors but the store has {len(alive)} ordinals"
        )
    if len(dense) > len(alive):  # an older layout: vectors of an uncommitted update
        with store.snapshot():
            alive, ids, columns = store.load_columns(size=len(dense))
    if dense.dim != manifest["encoder"]["dim"]:
        raise CorruptGenerationError(
            dense_path, f"has dimension {dense.dim}, the manifest says {manifest['encoder']['dim']}"
        )
    bm25_dir = gen_dir / BM25_DIR
    bm25_files = {k[len(bm25_prefix) :]: v for k, v in files.items() if k.startswith(bm25_prefix)}
    private = copies.copy(bm25_dir, bm25_files, key=gen_dir.name)
    try:
        bm25 = BM25Index.open(private, manifest.get("bm25", {}).get("boosts"))
        bm25_docs = bm25.num_docs()
    except (ValueError, OSError) as exc:
        raise CorruptGenerationError(bm25_dir, f"unreadable: {exc}") from None
    if bm25_docs < len(alive):
        raise CorruptGenerationError(
            bm25_dir, f"holds {bm25_docs} documents but the store has {len(alive)} ordinals"
        )
    return Generation(
        path=gen_dir,
        manifest=manifest,
        bm25=bm25,
        dense=dense,
        store=store,
        alive=alive,
        columns=columns,
        ordinal_ids=ids,
        speller=None
        if vocabulary is None
        else Speller(vocabulary, previous=None if previous is None else previous.speller),
        revision=int(revision),
        journal_seq=journal_seq,
        files=files,
        copies=copies if owned else None,
    )


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _load_with_retry(
    gen_dir: Path,
    previous: Generation | None,
    verifier: FileVerifier,
    copies: PrivateCopies | None = None,
    attempts: int = 5,
    sharded: ShardedDense | None = None,
) -> Generation:
    """Load a generation a writer may be committing to right now.

    A commit that lands while a reader loads can remove files the reader's store state
    still names (tantivy merges segments away; the previous FAISS file goes): the reader
    then simply loads again. A failure that repeats while the store stays at the same
    revision is real, and raised.
    """
    for attempt in range(attempts):
        before = _store_revision(gen_dir)
        try:
            return load_generation(gen_dir, previous, verifier, copies, sharded)
        except CorruptGenerationError:
            moved = _store_revision(gen_dir) != before
            if attempt == attempts - 1 or not moved:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


def _store_revision(gen_dir: Path) -> int | None:
    """The committed revision of a generation's store, None when it cannot be read."""
    try:
        store = DocStore(gen_dir / DOCS_FILE)
        try:
            return store.revision()
        finally:
            store.close()
    except (OSError, sqlite3.Error):
        return None


def encoder_for(gen_dir: Path, manifest: Mapping[str, Any], threads: int | None) -> Encoder:
    """The encoder a generation was built with: its bundled artifact, or the named model."""
    if (gen_dir / ENCODER_DIR).is_dir():
        return load_encoder(gen_dir / ENCODER_DIR, threads=threads)
    return load_encoder(str(manifest["encoder"]["source"]), threads=threads)


class Engine:
    """Hybrid product search over one index directory.

    >>> engine = Engine.open("index")                       # doctest: +SKIP
    >>> engine.search("couch", k=5, filters={"price_max": 800})  # doctest: +SKIP
    """

    def __init__(
        self,
        index_dir: Path,
        generation: Generation,
        encoder: Encoder,
        cache_size: int = 4096,
        threads: int | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.sharded = isinstance(generation.dense, ShardedDense)
        """Serving shards (`search.shards`): pinned to the state they were cut from."""
        self._generation = generation
        self.encoder = encoder
        self.cache = QueryCache(cache_size)
        self._threads = threads
        self._reload_lock = threading.Lock()
        self.verifier = FileVerifier()
        self.copies = generation.copies or PrivateCopies()
        self.synonyms = SynonymsFile(index_dir / SYNONYMS_FILE)
        self._facets: tuple[Generation, FacetIndex] | None = None
        self._noise: tuple[tuple[str, str], float] | None = None
        # Hybrid queries run BM25 here while the calling thread encodes the query and
        # searches FAISS: tantivy, ONNX Runtime and FAISS all release the GIL.
        self._lexical = ThreadPoolExecutor(LEXICAL_THREADS, thread_name_prefix="tinyseek-bm25")
        self.admit: Callable[[Path], bool] | None = None
        """Asked before switching to a newly published generation: False keeps serving
        the current one for now (the service's quality guard checks a suspect build
        first). In-place updates of the served generation are never held."""

    @classmethod
    def open(
        cls,
        index_dir: str | Path,
        encoder: Encoder | None = None,
        cache_size: int = 4096,
        threads: int | None = None,
        sharded: ShardedDense | None = None,
    ) -> Engine:
        """Open the generation that INDEX_DIR/CURRENT names.

        The encoder defaults to the one the index was built with; passing another
        one with a different name or dimension is refused. With `sharded`, the vectors
        are those shards, which must have been cut from this state of the index, and the
        engine stays on it (`reload_if_changed` never moves; cut and open again).
        """
        index_dir = Path(index_dir)
        gen_dir = current_generation(index_dir)
        generation = _load_with_retry(gen_dir, None, FileVerifier(), sharded=sharded)
        if encoder is None:
            encoder = encoder_for(gen_dir, generation.manifest, threads)
        _check_encoder(encoder, generation)
        return cls(index_dir, generation, encoder, cache_size=cache_size, threads=threads)

    @property
    def generation(self) -> Generation:
        return self._generation

    @property
    def default_weights(self) -> FusionWeights:
        return self._generation.fusion

    def __len__(self) -> int:
        return self._generation.live_count

    def reload_if_changed(self) -> bool:
        """Switch to the generation CURRENT names now, or reload an in-place update.

        Returns True on a switch. Cheap when nothing changed: a read of CURRENT and one
        lookup of the store's revision. A new generation `admit` holds back is not loaded
        (False). A generation that fails verification raises CorruptGenerationError and
        this engine keeps serving the one it has.
        """
        if self.sharded:
            return False
        with self._reload_lock:
            served = self._generation
            if served_generation_name(self.index_dir) == served.name:
                try:
                    revision = served.store.revision()
                except sqlite3.Error:
                    revision = -1  # reloading says what is wrong
                if revision is None:  # a store older than the meta table
                    revision = read_manifest(served.path).get("revision", 0)
                if revision == served.revision:
                    return False
            gen_dir = current_generation(self.index_dir)
            if gen_dir.name != served.name and self.admit is not None and not self.admit(gen_dir):
                return False
            generation = _load_with_retry(gen_dir, served, self.verifier, self.copies)
            if generation.manifest["encoder"]["name"] != self.encoder.name:
                self.encoder = encoder_for(gen_dir, generation.manifest, self._threads)
                self.cache.clear()
            _check_encoder(self.encoder, generation)
            self._generation = generation
            self.copies.retain({generation.name})
            return True

    def check_files(self) -> None:
        """Check the served generation's manifest and files on disk (a stat per file; a
        changed one is hashed again); raises CorruptGenerationError. What is served is
        unaffected: it was verified when loaded and is held privately."""
        generation = self._generation
        try:
            read_manifest(generation.path)
            docs = generation.path / DOCS_FILE
            if _inode(docs) != generation.store.identity:
                problem = "missing" if not docs.exists() else "replaced since it was opened"
                raise CorruptGenerationError(docs, problem)
            check_files(generation.path, generation.files, self.verifier)
        except CorruptGenerationError:
            if not self._moved_on(generation):
                raise
            # a commit landed meanwhile (tantivy merged segments away, the previous FAISS
            # file went): the next reload loads and verifies the new state

    def _moved_on(self, generation: Generation) -> bool:
        """Whether the index has a newer state than `generation` (CURRENT or revision)."""
        if served_generation_name(self.index_dir) != generation.name:
            return True
        try:
            return _store_revision(generation.path) not in (None, generation.revision)
        except Exception:
            return False

    def embed_query(self, text: str) -> np.ndarray:
        vector = self.cache.get(text)
        if vector is None:
            vector = self.encoder.encode_queries([text])[0]
            self.cache.put(text, vector)
        return vector

    def suggest(self, query: str) -> str | None:
        """The query with misspelt words corrected from the catalog's vocabulary, or None
        if it has none (see `search.spelling`). Raises ValueError like `search`."""
        speller = self._generation.speller
        if speller is None:
            return None
        return speller.correct(clean_query(query), keep=self.synonyms.rules.words)

    def refresh_synonyms(self) -> bool:
        """Re-read INDEX_DIR/synonyms.txt if it changed (the service does this at every
        reload check); True when the rules in force changed."""
        return self.synonyms.refresh()

    def search(
        self,
        query: str,
        k: int = 10,
        filters: Filters | Mapping[str, Any] | None = None,
        mode: SearchMode | str = SearchMode.HYBRID,
        weights: FusionWeights | Mapping[str, Any] | None = None,
        offset: int = 0,
        candidates: int = DEFAULT_CANDIDATES,
        spell: bool = True,
    ) -> list[Hit]:
        """Top-k matching products for the query, after skipping `offset`: the hits of
        `search_page` (which also counts the matching products and facets)."""
        return self.search_page(
            query,
            k=k,
            filters=filters,
            mode=mode,
            weights=weights,
            offset=offset,
            candidates=candidates,
            spell=spell,
        ).hits

    def search_page(
        self,
        query: str,
        k: int = 10,
        filters: Filters | Mapping[str, Any] | None = None,
        mode: SearchMode | str = SearchMode.HYBRID,
        weights: FusionWeights | Mapping[str, Any] | None = None,
        offset: int = 0,
        candidates: int = DEFAULT_CANDIDATES,
        spell: bool = True,
        sort: SortOrder | str = SortOrder.RELEVANCE,
        facets: FacetRequest | str | Iterable[str] | Mapping[str, Any] | None = None,
        highlight: bool = False,
    ) -> SearchPage:
        """One page of the products matching the query, the number of them, and facets.

        What matches is defined in `search.matching`; `sort` orders all of it (relevance,
        price_asc, price_desc, rating). With `spell`, misspelt words are corrected first
        (`suggest`). `facets`: a `FacetRequest`, facet names ("all", "brand", "category",
        "price", "in_stock", "rating") or a mapping of `FacetRequest.parse` arguments.
        `highlight` marks the query's words in each hit's title and description. Raises
        ValueError with a reason for an empty or oversized query, unknown mode or sort,
        bad filters, weights or facets; any other text is searched as plain words.
        """
        text = clean_query(query)
        gen = self._generation  # one generation for the whole request
        synonyms = self.synonyms.rules
        corrected = None
        if spell and gen.speller is not None:
            corrected = gen.speller.correct(text, keep=synonyms.words)
        searched = corrected or text
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        if candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {candidates}")
        try:
            mode = SearchMode(mode)
        except ValueError:
            valid = ", ".join(m.value for m in SearchMode)
            raise ValueError(f"unknown mode {mode!r}; valid modes: {valid}") from None
        try:
            sort = SortOrder(sort)
        except ValueError:
            valid = ", ".join(s.value for s in SortOrder)
            raise ValueError(f"unknown sort {sort!r}; valid: {valid}") from None
        if not isinstance(filters, Filters):
            filters = Filters.from_mapping(filters)
        if weights is None:
            weights = self.default_weights
        elif not isinstance(weights, FusionWeights):
            weights = FusionWeights.from_dict({**self.default_weights.to_dict(), **weights})
        facet_request = FacetRequest.of(facets)

        depth = max(candidates, k + offset) if sort is SortOrder.RELEVANCE else candidates
        retrieved = self._retrieve(gen, searched, depth, filters, mode, weights, synonyms)
        matches = match_set(
            gen,
            searched,
            retrieved,
            mode,
            filters,
            synonyms,
            candidates,
            meaningful=mode is not SearchMode.BM25 and _means_something(gen, searched, synonyms),
            noise=0.0 if mode is SearchMode.BM25 else self._noise_level(gen),
            listed=facet_request is not None or sort is not SortOrder.RELEVANCE,
        )
        page = order(matches, retrieved.fused, sort, gen)[offset : offset + k]
        products = gen.store.get(page)
        fused_at = dict(retrieved.fused)
        bm25_at = {o: (r, s) for r, (o, s) in enumerate(retrieved.bm25, start=1)}
        dense_at = {o: (r, s) for r, (o, s) in enumerate(retrieved.dense, start=1)}
        highlighter = None
        if highlight:
            query_terms = gen.bm25.text_query(searched, synonyms=synonyms)
            highlighter = Highlighter(gen.bm25, query_terms)
        hits = []
        for ordinal, product in zip(page, products):
            b = bm25_at.get(ordinal)
            d = dense_at.get(ordinal)
            hits.append(
                Hit(
                    doc_id=product.id,
                    score=fused_at.get(ordinal, 0.0),
                    bm25_rank=None if b is None else b[0],
                    bm25_score=None if b is None else b[1],
                    dense_rank=None if d is None else d[0],
                    dense_score=None if d is None else d[1],
                    product=product,
                    match=matches.kind(ordinal, b is not None),
                    highlights=None if highlighter is None else highlighter.highlight(product),
                )
            )
        counts = None
        if facet_request is not None:
            counts = count_facets(self._facet_index(gen), matches.mask, facet_request, filters)
        return SearchPage(
            query=text,
            corrected_query=corrected,
            hits=hits,
            total=matches.total,
            offset=offset,
            k=k,
            mode=mode,
            sort=sort,
            facets=counts,
        )

    def empty_page(
        self,
        query: str,
        k: int = 10,
        offset: int = 0,
        mode: SearchMode | str = SearchMode.HYBRID,
        sort: SortOrder | str = SortOrder.RELEVANCE,
        facets: FacetRequest | str | Iterable[str] | Mapping[str, Any] | None = None,
    ) -> SearchPage:
        """A page of no results, with the requested facets counted over nothing: the
        answer to a query with nothing to search or to filters no product can pass
        (the service's, where `search_page` raises ValueError for the library user)."""
        gen = self._generation
        facet_request = FacetRequest.of(facets)
        counts = None
        if facet_request is not None:
            nothing = np.zeros(len(gen.alive), dtype=bool)
            counts = count_facets(self._facet_index(gen), nothing, facet_request, Filters())
        return SearchPage(
            query=query,
            corrected_query=None,
            hits=[],
            total=0,
            offset=offset,
            k=k,
            mode=SearchMode(mode),
            sort=SortOrder(sort),
            facets=counts,
        )

    def _noise_level(self, gen: Generation) -> float:
        """`search.matching.noise_level` of this generation and encoder, measured once (an
        in-place update keeps the generation's name and its level)."""
        key = (gen.name, self.encoder.name)
        cached = self._noise
        if cached is not None and cached[0] == key:
            return cached[1]
        level = noise_level(self.encoder, gen.dense)
        self._noise = (key, level)
        return level

    def _facet_index(self, gen: Generation) -> FacetIndex:
        """The facet tables of this generation (built at its first faceted search)."""
        cached = self._facets
        if cached is not None and cached[0] is gen:
            return cached[1]
        index = FacetIndex.build(gen.columns, gen.alive)
        self._facets = (gen, index)
        return index

    def _retrieve(
        self,
        gen: Generation,
        text: str,
        depth: int,
        filters: Filters,
        mode: SearchMode,
        weights: FusionWeights,
        synonyms: Synonyms,
    ) -> Retrieved:
        """Each retriever's top-`depth` list and their fusion."""
        bm25: list[tuple[int, float]] = []
        full_matches = 0
        full_total: int | None = None
        dense: list[tuple[int, float]] = []
        vector: np.ndarray | None = None
        if mode is SearchMode.HYBRID:
            lexical = self._lexical.submit(_bm25_all_then_any, gen, text, depth, filters, synonyms)
            try:
                vector = self.embed_query(text)
                dense = gen.dense.search(vector, depth, gen.mask(filters))
            finally:
                bm25, full_matches, full_total = lexical.result()
        elif mode is SearchMode.BM25:
            bm25, full_matches, full_total = _bm25_all_then_any(gen, text, depth, filters, synonyms)
        else:
            dense = gen.dense.search(self.embed_query(text), depth, gen.mask(filters))

        if mode is SearchMode.BM25:
            fused: Ranked = bm25
        elif mode is SearchMode.DENSE:
            fused = dense
        elif weights.method is FusionMethod.ADAPTIVE:
            assert vector is not None  # hybrid mode encodes the query
            signals = query_signals(gen, text, vector, bm25, full_matches, dense)
            fused = fuse_adaptive(bm25, dense, signals, weights.bm25, weights.dense, weights.rrf_k)
        elif weights.method is FusionMethod.RRF:
            fused = fuse_rrf(
                bm25,
                dense,
                weights.bm25,
                weights.dense,
                weights.rrf_k,
                full_matches,
                weights.partial,
            )
        else:
            fused = fuse_convex(
                bm25, dense, weights.bm25, weights.dense, full_matches, weights.partial
            )
        if mode is SearchMode.DENSE:
            vector = self.embed_query(text)  # cached: encoded once
        return Retrieved(bm25, full_matches, dense, fused, depth, vector, full_total)


def _means_something(gen: Generation, text: str, synonyms: Synonyms) -> bool:
    """Whether a word of the text is known: to the catalog, to English, to the synonyms."""
    english = english_words()
    speller = gen.speller
    return any(
        w in english or w in synonyms.words or (speller is not None and speller.knows(w))
        for w in words(text)
    )


AGREEMENT_DEPTH = 5


def query_signals(
    gen: Generation,
    text: str,
    vector: np.ndarray,
    bm25: Ranked,
    full_matches: int,
    dense: Ranked,
) -> QuerySignals:
    """What the two result lists say about the query (see `QuerySignals`); costs a few
    vector reads and, without full matches, reading BM25's top products."""
    top = [o for o, _ in bm25[:AGREEMENT_DEPTH]]
    agreement = 1.0
    if not top:
        agreement = 0.0
    elif dense:
        top_dense = float(np.mean([score for _, score in dense[:AGREEMENT_DEPTH]]))
        if top_dense > 0:
            agreement = float(np.mean(gen.dense.vectors(top) @ vector)) / top_dense
    share = 1.0 if full_matches else coverage(text, gen.store.get(top))
    return QuerySignals(full_matches, share, agreement)


def _bm25_all_then_any(
    gen: Generation,
    text: str,
    depth: int,
    filters: Filters | None,
    synonyms: Synonyms | None = None,
) -> tuple[list[tuple[int, float]], int, int | None]:
    """BM25 ranking where products matching every content word come first, then the rest.

    Returns the ranking, how many of its leading items match every content word, and how
    many products match every word in all (`Retrieved.full_total`; None with tombstones).
    In product search a partial match ("machine" for "washing machine") is usually
    another kind of product, so hybrid fusion can discount it. With one content word,
    a partial match could only match a stopword, so there are none.
    """
    full, total = _live_bm25(gen, text, depth, filters, True, synonyms, count=True)
    if len(full) >= depth or len(content_words(query_tokens(text))) <= 1:
        return full, len(full), total
    seen = {o for o, _ in full}
    any_word, _ = _live_bm25(gen, text, depth, filters, synonyms=synonyms)
    rest = [(o, s) for o, s in any_word if o not in seen]
    return (full + rest)[:depth], len(full), total


def _live_bm25(
    gen: Generation,
    text: str,
    depth: int,
    filters: Filters | None,
    all_words: bool = False,
    synonyms: Synonyms | None = None,
    count: bool = False,
) -> tuple[list[tuple[int, float]], int | None]:
    """BM25 top-`depth` among live products and, with `count`, how many documents match in
    all, counted in the same pass (None without it, or when tombstones would make tantivy's
    count too high). Counting visits every match: a disjunction's top n is then unpruned.

    Updates leave tombstoned (and, mid-commit, not yet committed) ordinals in
    tantivy until compaction, so when there are any, fetch deeper and drop them.
    """
    n_alive = len(gen.alive)
    if gen.live_count == n_alive:
        hits, total = gen.bm25.search_counted(text, depth, filters, all_words, synonyms, count)
        return [(o, s) for o, s in hits if o < n_alive], total
    n = depth + min(n_alive - gen.live_count, depth)
    while True:
        hits = gen.bm25.search(text, n, filters, all_words, synonyms)
        live = [(o, s) for o, s in hits if o < n_alive and gen.alive[o]]
        if len(live) >= depth or len(hits) < n:
            return live[:depth], None
        n *= 4


def _check_encoder(encoder: Encoder, generation: Generation) -> None:
    expected = generation.manifest["encoder"]
    if encoder.dim != generation.dense.dim:
        raise ValueError(
            f"encoder {encoder.name!r} has dim {encoder.dim}, but {generation.path} was built "
            f"with {expected['name']!r} (dim {generation.dense.dim})"
        )
    if encoder.name != expected["name"]:
        raise ValueError(
            f"encoder {encoder.name!r} does not match the index, built with {expected['name']!r}"
        )
