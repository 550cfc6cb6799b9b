"""The matching set of a query: which products a search returns, counts and sorts.

The retrievers rank; this module decides what *matches*, so a page can say how many
products match, count facets over them, sort all of them by price or rating, and say
"no results" when nothing does. A product matches when (filters applied throughout):

1. it contains every content word of the query, or a synonym of it (all such products,
   however many: BM25's full matches);
2. or it is one of BM25's best `candidates` (100) partial matches and the fusion gives its
   BM25 vote a weight (hybrid fusion can discount partial matches to nothing, e.g. the
   knife blocks BM25 offers for "headset to block out airplane noise"); in bm25 mode every
   one of them matches;
3. or it is one of the dense retriever's `candidates` nearest products and its cosine
   similarity to the query is at least RELATIVE_FLOOR (0.7) times that of the nearest
   product in the whole catalog, or one of the catalog's TOP_NEAREST (10) nearest (before
   filters) with at least TOP_FLOOR (0.5) times that (hybrid and dense modes), provided
   the query means something: one of its words is known (a catalog word, an English word,
   a synonym rule's word), or its nearest product is closer than nonsense gets
   (`noise_level`). A filter only removes products from the set, so the count a facet
   shows is the total its filter gives.

So a query of nonsense words ("xqzzy") or an unknown model number matches nothing, and a
sort by price shows sofas for "couch", not the bath rug that is the 90th nearest product.
The lower floor for the first page's worth of nearest products is for long natural-language
queries, whose similarities are flatter: with 0.7 for all, NFCorpus dev's dense nDCG@10
fell from 0.305 (every candidate kept) to 0.285, below the plain teacher's 0.302; with the
two floors it is 0.303 (figures with each text embedded alone, see `ArtifactEncoder`).
Measured with the default encoder against keeping every dense candidate (nDCG@10, dev
splits): sample labels 0.777 / 0.793 (dense / hybrid) both ways, NFCorpus 0.305 -> 0.303 /
0.329 -> 0.328; Recall@100 drops (sample hybrid 0.941 -> 0.890, NFCorpus 0.299 -> 0.258)
as the results stop at what matches. The dense-only products kept were relevant 7.6x as
often on the sample (0.050 -> 0.380). No real query of the sample and NFCorpus matches
nothing; 7 of 2,000 Home Depot queries did ("aspiradora", "taladros"); 175-178 of 209
random letter strings get no dense matches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tinyseek.search.dense import VectorSearch
from tinyseek.search.fusion import Ranked
from tinyseek.search.types import MatchKind, SearchMode, SortOrder

if TYPE_CHECKING:
    from tinyseek.models.encoder import Encoder
    from tinyseek.search.engine import Generation
    from tinyseek.search.filters import Filters
    from tinyseek.search.synonyms import Synonyms

RELATIVE_FLOOR = 0.7
TOP_NEAREST = 10
TOP_FLOOR = 0.5
CHECKED_AT_MOST = 1000
"""Dense candidates checked one by one for matching every word (`match_set`); deeper pages
collect every match instead."""
NOISE_QUERIES = 64
NOISE_QUANTILE = 0.9


@dataclass(frozen=True)
class Retrieved:
    """One query's retriever lists (best first) and their fusion, as `Engine` ranks them."""

    bm25: Ranked
    full_matches: int
    """How many leading `bm25` items contain every content word."""
    dense: Ranked
    fused: Ranked
    depth: int
    """How deep each retriever was asked to go."""
    vector: np.ndarray | None = None
    """The query's embedding (hybrid and dense modes)."""
    full_total: int | None = None
    """How many products contain every content word, tombstones included, when the BM25
    search counted them (with no tombstones; it runs beside the query's encoding)."""


@dataclass(frozen=True)
class MatchSet:
    """The matching products as masks over ordinals."""

    mask: np.ndarray
    full: np.ndarray
    """Those matching every word."""
    unlisted: int = 0
    """Products matching every word that are counted but in neither mask (`match_set`
    without `listed`: only their number was needed)."""

    @property
    def total(self) -> int:
        return int(np.count_nonzero(self.mask)) + self.unlisted

    def kind(self, ordinal: int, in_bm25: bool) -> MatchKind:
        if self.full[ordinal]:
            return MatchKind.ALL_WORDS
        return MatchKind.SOME_WORDS if in_bm25 else MatchKind.SEMANTIC


def match_set(
    gen: Generation,
    text: str,
    retrieved: Retrieved,
    mode: SearchMode,
    filters: Filters,
    synonyms: Synonyms,
    candidates: int,
    meaningful: bool,
    noise: float,
    listed: bool = True,
) -> MatchSet:
    """The products matching `text` (see the module docstring).

    With `listed` (facets to count, a page sorted by a field) every match is in the masks.
    Without it, full matches beyond those ranked may only be counted (`MatchSet.unlisted`):
    at a million products a common word's tens of thousands cost more to collect than the
    rest of the search, and a page by relevance needs only whether each ranked candidate
    matches. Same pages, same totals."""
    n = len(gen.alive)
    mask = np.zeros(n, dtype=bool)
    full = np.zeros(n, dtype=bool)
    unlisted = 0
    if mode is not SearchMode.DENSE:
        leading = [o for o, _ in retrieved.bm25[: retrieved.full_matches]]
        full[leading] = True
        if retrieved.full_matches >= retrieved.depth:  # there may be more than were ranked
            found = retrieved.full_total
            if found is None:
                found = gen.bm25.count(text, filters, all_words=True, synonyms=synonyms)
            if found > retrieved.full_matches:
                # tantivy counts tombstones until compaction, and products an update is
                # committing: then collect, so only live ones count
                clean = gen.live_count == n == gen.bm25.num_docs()
                others = None
                if clean and not listed and len(retrieved.dense) <= CHECKED_AT_MOST:
                    # which dense candidates also match every word
                    others = [o for o, _ in retrieved.dense if not full[o]]
                ordinals = gen.bm25.ordinals(
                    text, found if others is None else len(others), filters, True, synonyms, others
                )
                ordinals = ordinals[ordinals < n]
                full[ordinals[gen.alive[ordinals]]] = True
                if others is not None:
                    unlisted = found - int(np.count_nonzero(full))
        mask |= full
        partial = retrieved.bm25[retrieved.full_matches : candidates]
        if mode is SearchMode.HYBRID:
            weighted = {o for o, score in retrieved.fused if score > 0}
            mask[[o for o, _ in partial if o in weighted]] = True
        else:
            mask[[o for o, _ in partial]] = True
    if mode is not SearchMode.BM25 and retrieved.dense and retrieved.vector is not None:
        # the nearest products in the whole catalog, filters or not: a filter only removes
        # products from the set, so a facet's count is the total its filter gives
        top = retrieved.dense[:TOP_NEAREST]
        if not filters.is_empty:
            top = gen.dense.search(retrieved.vector, TOP_NEAREST, gen.mask(None))
        nearest = max(retrieved.dense[0][1], *(s for _, s in top))
        if nearest > 0 and (meaningful or nearest >= noise):
            closest = {o for o, _ in top}
            kept = [
                o
                for o, score in retrieved.dense[:candidates]
                if score >= (TOP_FLOOR if o in closest else RELATIVE_FLOOR) * nearest
            ]
            mask[kept] = True
    return MatchSet(mask, full, unlisted)


def nonsense_queries(n: int = NOISE_QUERIES, seed: int = 0) -> list[str]:
    """Seeded random letter strings of one or two words."""
    rng = random.Random(seed)
    letters = "bcdfghjklmnpqrstvwxzaeiouy"
    return [
        " ".join(
            "".join(rng.choice(letters) for _ in range(rng.randint(5, 9)))
            for _ in range(rng.randint(1, 2))
        )
        for _ in range(n)
    ]


def noise_level(encoder: Encoder, dense: VectorSearch) -> float:
    """How close nonsense gets to this catalog: the NOISE_QUANTILE of the best cosine
    similarity of `nonsense_queries` (about 0.25 on the sample catalog, 0.43 on Home
    Depot's with the default encoder). Costs one batch encode and 64 searches."""
    if len(dense) == 0:
        return 1.0
    best = [dense.search(vector, 1)[0][1] for vector in encoder.encode_queries(nonsense_queries())]
    return float(np.quantile(best, NOISE_QUANTILE))


def order(matches: MatchSet, fused: Ranked, sort: SortOrder, gen: Generation) -> list[int]:
    """Ordinals of the matching set in page order.

    By relevance: the fused ranking, less what does not match. By price or rating: every
    matching product, unknown values last, ties in relevance order.
    """
    if sort is SortOrder.RELEVANCE:
        return [o for o, _ in fused if matches.mask[o]]
    ordinals = np.flatnonzero(matches.mask)
    rank = np.full(len(matches.mask), len(fused), dtype=np.int64)
    if fused:
        rank[[o for o, _ in fused]] = np.arange(len(fused))
    columns = gen.columns
    if sort is SortOrder.RATING:
        values = -columns.rating[ordinals]
    else:
        values = columns.price[ordinals]
        if sort is SortOrder.PRICE_DESC:
            values = -values
    values = np.where(np.isnan(values), np.inf, values)
    by = np.lexsort((ordinals, rank[ordinals], values))
    return [int(o) for o in ordinals[by]]
