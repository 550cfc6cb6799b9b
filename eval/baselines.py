"""The plain tools a shop would otherwise wire up, measured in the same run as tinyseek.

- `plain-bm25`: tantivy with one `en_stem` field holding title + " " + text, default k1/b,
  the query's words OR-ed, as typed (no spelling correction);
- `plain-dense/teacher`: all-MiniLM-L6-v2 fp32 through sentence-transformers, title + " " +
  text (it truncates at 256 tokens), exact inner product;
- `plain-rrf/teacher`: reciprocal rank fusion (k = 60, 1:1) of the two.

These follow the BEIR conventions the datasets' published baselines use, so a tinyseek
configuration is judged against what the usual stack gives on the same documents and labels.
Query filters are applied to every ranking, as the engine applies them. The teacher needs
the `train` extra; its document vectors are cached beside the eval indexes and the queries
are encoded in batches up front: these rows are quality references, their latency columns
are not query latencies.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tinyseek.eval.beir import LabelledQuery, LabelledSet
from tinyseek.eval.runner import DEEP_K, ConfigResult, latency_summary, score_run
from tinyseek.models.encoder import Encoder
from tinyseek.search.filters import FilterColumns, Filters, normalise_category
from tinyseek.search.fusion import fuse_rrf
from tinyseek.search.relevance import mean_metrics
from tinyseek.search.types import Product

log = logging.getLogger(__name__)

PLAIN_BM25 = "plain-bm25"
PLAIN_DENSE = "plain-dense/teacher"
PLAIN_RRF = "plain-rrf/teacher"
Ranker = Callable[[LabelledQuery], list[tuple[int, float]]]


def plain_text(product: Product) -> str:
    """title + " " + text, as BEIR baselines embed and index a document."""
    description = product.description.strip()
    if not description or description == product.title.strip():
        return product.title
    return f"{product.title} {description}"


def _columns(products: Sequence[Product]) -> FilterColumns:
    brands: dict[str, int] = {"": 0}
    categories: dict[str, int] = {"": 0}
    return FilterColumns(
        price=np.array([np.nan if p.price is None else p.price for p in products]),
        rating=np.array([np.nan if p.rating is None else p.rating for p in products]),
        in_stock=np.array([p.in_stock for p in products], dtype=bool),
        brand_code=np.array(
            [brands.setdefault(p.brand.strip().lower(), len(brands)) for p in products],
            dtype=np.int32,
        ),
        category_code=np.array(
            [
                categories.setdefault(normalise_category(p.category), len(categories))
                for p in products
            ],
            dtype=np.int32,
        ),
        brands=list(brands),
        categories=list(categories),
    )


class PlainBaselines:
    """One corpus indexed the plain way; `rank_*` return product ordinals, best first."""

    def __init__(self, products: Sequence[Product], cache_dir: Path) -> None:
        import tantivy

        self.products = list(products)
        self.columns = _columns(self.products)
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("ord", stored=False, indexed=True, fast=True)
        builder.add_text_field("text", stored=False, tokenizer_name="en_stem")
        self._index = tantivy.Index(builder.build())  # in memory: built in seconds
        writer = self._index.writer(200_000_000, 1)
        for ordinal, product in enumerate(self.products):
            doc = tantivy.Document()
            doc.add_integer("ord", ordinal)
            doc.add_text("text", plain_text(product))
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
        self._index.reload()
        self._cache_dir = cache_dir
        self._teacher: Encoder | None = None
        self._vectors: np.ndarray | None = None
        self._queries: dict[str, np.ndarray] = {}

    def encode_queries(self, texts: Sequence[str]) -> None:
        """Encode the queries the dense rankings will need, in batches of 64."""
        teacher, _ = self._teacher_vectors()
        todo = sorted({t for t in texts if t not in self._queries})
        for start in range(0, len(todo), 64):
            chunk = todo[start : start + 64]
            self._queries.update(zip(chunk, teacher.encode_queries(chunk)))

    def _mask(self, query: LabelledQuery) -> np.ndarray | None:
        if not query.filters:
            return None
        return self.columns.mask(Filters.from_mapping(query.filters))

    def rank_bm25(self, query: LabelledQuery, depth: int = DEEP_K) -> list[tuple[int, float]]:
        from tinyseek.search.bm25 import query_tokens

        tokens = query_tokens(query.text)
        if not tokens:
            return []
        parsed, _errors = self._index.parse_query_lenient(" ".join(tokens), ["text"])
        searcher = self._index.searcher()
        mask = self._mask(query)
        n = depth if mask is None else len(self.products)
        hits = searcher.search(parsed, n).hits
        ordinals = searcher.fast_field_values("ord", [address for _, address in hits])
        ranked = [(int(o), float(s)) for (s, _), o in zip(hits, ordinals) if o is not None]
        if mask is not None:
            ranked = [(o, s) for o, s in ranked if mask[o]]
        return ranked[:depth]

    def _teacher_vectors(self) -> tuple[Encoder, np.ndarray]:
        if self._teacher is None or self._vectors is None:
            from tinyseek.models.encoder import load_encoder

            texts = [plain_text(p) for p in self.products]
            digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
            path = self._cache_dir / f"plain-teacher-{digest}.npy"
            self._teacher = load_encoder("teacher")
            if path.is_file():
                self._vectors = np.load(path)
            else:
                log.info("embedding %d documents with the fp32 teacher", len(texts))
                batches = self._teacher.encode_documents(texts, batch_size=64)
                self._vectors = np.concatenate(list(batches))
                self._cache_dir.mkdir(parents=True, exist_ok=True)
                np.save(path, self._vectors)
        return self._teacher, self._vectors

    def rank_dense(self, query: LabelledQuery, depth: int = DEEP_K) -> list[tuple[int, float]]:
        teacher, vectors = self._teacher_vectors()
        vector = self._queries.get(query.text)
        if vector is None:
            vector = teacher.encode_queries([query.text])[0]
        scores = vectors @ vector
        mask = self._mask(query)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        top = np.argsort(-scores, kind="stable")[:depth]
        return [(int(o), float(scores[o])) for o in top if np.isfinite(scores[o])]

    def rank_rrf(self, query: LabelledQuery, depth: int = DEEP_K) -> list[tuple[int, float]]:
        return fuse_rrf(self.rank_bm25(query), self.rank_dense(query), k=60)[:depth]


def run_baselines(
    labelled: LabelledSet,
    products: Sequence[Product],
    cache_dir: Path,
    k: int = 10,
    dense: bool = True,
    progress: bool = False,
) -> list[ConfigResult]:
    """The plain configurations, scored like the engine's (`score_run`)."""
    plain = PlainBaselines(products, cache_dir)
    runs: list[tuple[str, str, Ranker]] = [(PLAIN_BM25, "bm25", plain.rank_bm25)]
    if dense:
        plain.encode_queries([q.text for q in labelled.queries])
        runs += [(PLAIN_DENSE, "dense", plain.rank_dense), (PLAIN_RRF, "hybrid", plain.rank_rrf)]
    results = []
    for name, mode, rank in runs:

        def search(query: LabelledQuery, rank: Ranker = rank) -> list[str]:
            return [plain.products[o].id for o, _ in rank(query)]

        if progress:
            log.info("evaluating %s", name)
        queries, errors = score_run(name, labelled, search, k=k, progress=progress)
        results.append(
            ConfigResult(
                name=name,
                encoder="" if mode == "bm25" else "teacher (plain)",
                mode=mode,
                weights={"method": "rrf", "rrf_k": 60, "bm25": 1, "dense": 1}
                if mode == "hybrid"
                else None,
                queries=queries,
                metrics=mean_metrics([r.metrics for r in queries]),
                latency_ms=latency_summary([r.latency_ms for r in queries]),
                errors=errors,
                extra={"plain": True},
            )
        )
    return results
