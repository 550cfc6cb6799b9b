"""`Engine.search_page`: totals, facets (against brute-force counts), sorting, highlights,
"no results", and synonyms reloaded without a rebuild."""

from __future__ import annotations

import itertools
import math
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.test_indexer_support import HashingEncoder
from tinyseek.indexer import IndexWriter, build_index
from tinyseek.search import Engine, Product
from tinyseek.search.bm25 import all_text, content_words, query_tokens, words
from tinyseek.search.facets import (
    FacetIndex,
    FacetRequest,
    count_facets,
    default_price_edges,
    nice_number,
)
from tinyseek.search.filters import FilterColumns, Filters
from tinyseek.search.synonyms import SYNONYMS_FILE, Synonyms
from tinyseek.search.types import MatchKind, SortOrder

QUERIES = [
    "sofa",
    "couch",
    "lamp for reading",
    "cordless drill",
    "black steel",
    "kitchen knife set",
    "garden hose",
    "washing machine",
    "gift for dad",
    "wingback chair",
    "led desk lamp",
    "queen bed sheets",
    "frying pan",
    "office chair",
    "running shoes",
    "coffee maker",
    "bath towel",
    "outdoor string lights",
    "table",
    "wood",
]
FILTER_COMBINATIONS: list[dict[str, Any]] = [
    {},
    {"category": "Furniture"},
    {"price_min": 20.0, "price_max": 400.0},
    {"in_stock": True, "rating_min": 4.0},
    {"brand": "kelvale"},
    {"category": "furniture > living room", "price_max": 229.99},
    {"price_min": 47.99, "in_stock": False},
]
# Edges at prices the sample catalog has (7, 1, 7 and 8 products): a bucket's bounds are
# inclusive, and products on an edge must be counted on both sides of it.
EDGES = (47.99, 100.0, 229.99, 239.99)


def matching_products(engine: Engine, query: str, filters: dict[str, Any]) -> list[Product]:
    """Every matching product: a sort other than relevance pages through all of them."""
    page = engine.search_page(query, k=10_000, filters=filters, sort="price_asc")
    assert len(page.hits) == page.total
    return [h.product for h in page.hits]


def passes(product: Product, filters: dict[str, Any]) -> bool:
    """The filters, spelled out over the catalog's own fields."""
    if "category" in filters:
        wanted = [level.lower() for level in filters["category"].split(" > ")]
        if [level.lower() for level in product.category_levels[: len(wanted)]] != wanted:
            return False
    if "brand" in filters and (product.brand or "").lower() != filters["brand"].lower():
        return False
    price = product.price
    if "price_min" in filters and (price is None or price < filters["price_min"]):
        return False
    if "price_max" in filters and (price is None or price > filters["price_max"]):
        return False
    if "in_stock" in filters and product.in_stock != filters["in_stock"]:
        return False
    rating = product.rating
    return "rating_min" not in filters or (rating is not None and rating >= filters["rating_min"])


def has_every_word(product: Product, query: str) -> bool:
    """Every content word of the query appears in the product's text as a word."""
    text = set(words(all_text(product)))
    return all(w in text for w in content_words(query_tokens(query)))


def bucket_bounds(edges: tuple[float, ...], filters: dict[str, Any]) -> list[float | None]:
    """The buckets a shopper expects: within an applied price range, its ends as the outer
    bounds and only the edges strictly inside it."""
    low, high = filters.get("price_min"), filters.get("price_max")
    inside = [e for e in edges if (low is None or low < e) and (high is None or e < high)]
    return [low, *inside, high]


def brute_force(
    products: list[Product], level: int, edges: tuple[float, ...], filters: dict[str, Any]
) -> dict[str, Any]:
    brands = Counter(p.brand for p in products if p.brand)
    categories = Counter(
        " > ".join(p.category_levels[:level]) for p in products if len(p.category_levels) >= level
    )
    prices = [p.price for p in products if p.price is not None]
    bounds = bucket_bounds(edges, filters)
    price = [
        sum(1 for x in prices if (lo is None or x >= lo) and (hi is None or x <= hi))
        for lo, hi in itertools.pairwise(bounds)
    ]
    ratings = [
        sum(1 for p in products if p.rating is not None and p.rating >= s) for s in (4, 3, 2, 1)
    ]
    stock = sum(p.in_stock for p in products)
    return {
        "brand": brands,
        "category": categories,
        "price": price,
        "in_stock": [stock, len(products) - stock],
        "rating": ratings,
    }


def top(counts: Counter[str], size: int) -> list[tuple[str, int]]:
    """The facet's order: most frequent first, then by name."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0].lower()))[:size]


@pytest.mark.parametrize("filters", FILTER_COMBINATIONS, ids=lambda f: ",".join(f) or "none")
def test_facet_counts_equal_a_brute_force_count(
    sample_engine: Engine, sample_products: list[Product], filters: dict[str, Any]
) -> None:
    catalog = {p.id: p for p in sample_products}
    request = FacetRequest.parse("all", size=1000, price_edges=EDGES)
    prices = np.array([math.nan if p.price is None else p.price for p in sample_products])
    default_edges = default_price_edges(prices)
    checked = on_edges = 0
    for query in QUERIES:
        page = sample_engine.search_page(query, k=10, filters=filters, facets=request)
        # the matching products as the catalog file has them, not as the engine read them
        products = [catalog[p.id] for p in matching_products(sample_engine, query, filters)]
        assert page.total == len(products), query
        assert all(passes(p, filters) for p in products), query
        searched = page.corrected_query or query
        literal = {
            p.id for p in sample_products if passes(p, filters) and has_every_word(p, searched)
        }
        assert literal <= {p.id for p in products}, (query, literal - {p.id for p in products})
        facets = page.facets
        assert facets is not None and facets.category_level is not None
        expected = brute_force(products, facets.category_level, EDGES, filters)
        brands = {c.value: c.count for c in facets.brand or ()}
        assert brands == dict(expected["brand"]), query
        assert {c.value: c.count for c in facets.category or ()} == dict(expected["category"])
        assert [r.count for r in facets.price or ()] == expected["price"], query
        assert [c.count for c in facets.in_stock or ()] == expected["in_stock"], query
        assert [r.count for r in facets.rating or ()] == expected["rating"], query
        # the defaults: the 10 most frequent brands and categories, the catalog's buckets
        default = sample_engine.search_page(query, k=10, filters=filters, facets="all").facets
        assert default is not None and default.category_level == facets.category_level
        assert [(c.value, c.count) for c in default.brand or ()] == top(expected["brand"], 10)
        assert [(c.value, c.count) for c in default.category or ()] == top(expected["category"], 10)
        bounds = [(r.min, r.max) for r in default.price or ()]
        assert bounds == list(itertools.pairwise(bucket_bounds(default_edges, filters))), query
        if "price_max" in filters:
            assert all(r.max is not None and r.max <= filters["price_max"] for r in default.price)
        wanted = brute_force(products, facets.category_level, default_edges, filters)["price"]
        assert [r.count for r in default.price or ()] == wanted, query
        checked += page.total > 0
        on_edges += sum(p.price in EDGES for p in products)
    # most queries match something (fewer under a brand, or two filters at once)
    assert checked >= (10 if len(filters) < 2 and "brand" not in filters else 2), checked
    assert on_edges > 0 or len(filters) > 1  # bucket bounds were put to the test


def test_category_facet_drills_down_below_the_filter(sample_engine: Engine) -> None:
    top = sample_engine.search_page("chair", facets="category").facets
    assert top is not None and top.category_level == 1
    assert all(" > " not in c.value for c in top.category or ())
    below = sample_engine.search_page(
        "chair", facets="category", filters={"category": "furniture"}
    ).facets
    assert below is not None and below.category_level == 2
    assert below.category and all(c.value.startswith("Furniture > ") for c in below.category)


def test_sorting_applies_to_the_whole_matching_set(sample_engine: Engine) -> None:
    relevance = sample_engine.search_page("lamp", k=1000)
    cheap = sample_engine.search_page("lamp", k=5, sort=SortOrder.PRICE_ASC)
    dear = sample_engine.search_page("lamp", k=5, sort="price_desc")
    rated = sample_engine.search_page("lamp", k=5, sort="rating")
    prices = [h.product.price for h in relevance.hits if h.product.price is not None]
    assert cheap.total == dear.total == rated.total == relevance.total
    assert [h.product.price for h in cheap.hits] == sorted(prices)[:5]
    assert [h.product.price for h in dear.hits] == sorted(prices, reverse=True)[:5]
    ratings = sorted((h.product.rating or 0 for h in relevance.hits), reverse=True)[:5]
    assert [h.product.rating for h in rated.hits] == ratings
    second = sample_engine.search_page("lamp", k=5, offset=5, sort="price_asc")
    assert [h.product.price for h in second.hits] == sorted(prices)[5:10]


def test_no_results_is_possible_and_honest(sample_engine: Engine) -> None:
    for query in ("xqzzy", "zzqv wxkj", "QZ-99999-XQ"):
        for mode in ("hybrid", "dense", "bm25"):
            page = sample_engine.search_page(query, mode=mode)
            assert (page.total, page.hits) == (0, []), (query, mode)
    sofa = sample_engine.search_page("sofa")
    assert 0 < sofa.total < 1000
    beyond = sample_engine.search_page("sofa", offset=1000)
    assert beyond.hits == [] and beyond.total == sofa.total
    impossible = sample_engine.search_page("sofa", filters={"brand": "No Such Brand"})
    assert (impossible.total, impossible.hits) == (0, [])


def test_pages_cover_the_matching_set_without_overlap(sample_engine: Engine) -> None:
    first = sample_engine.search_page("chair", k=10)
    second = sample_engine.search_page("chair", k=10, offset=10)
    assert first.total == second.total > 20
    ids = [h.doc_id for h in first.hits + second.hits]
    assert len(set(ids)) == 20
    assert ids == [h.doc_id for h in sample_engine.search_page("chair", k=20).hits]


def test_match_kinds_and_highlights(sample_engine: Engine) -> None:
    page = sample_engine.search_page("wingback chair", k=20, highlight=True)
    first = page.hits[0]
    assert first.match is MatchKind.ALL_WORDS
    assert first.highlights is not None
    marked = [first.product.title[a:b].lower() for a, b in first.highlights.title.spans]
    assert "wingback" in marked and "chair" in marked
    couch = sample_engine.search_page("couch", k=5, highlight=True)
    assert couch.hits and all(h.match is MatchKind.SEMANTIC for h in couch.hits)
    assert all(h.highlights and not h.highlights.title.spans for h in couch.hits)
    plain = sample_engine.search_page("wingback chair", k=3)
    assert all(h.highlights is None for h in plain.hits)


def test_description_snippet_marks_words_with_character_offsets(sample_engine: Engine) -> None:
    page = sample_engine.search_page("upholstered velvet", k=10, highlight=True)
    snippets = [h.highlights.description for h in page.hits if h.highlights]
    marked = [s for s in snippets if s is not None and s.spans]
    assert marked
    for snippet in marked:
        for a, b in snippet.spans:
            assert snippet.text[a:b].lower().startswith(("upholster", "velvet"))


def test_facet_request_validation() -> None:
    assert FacetRequest.of(None) is None and FacetRequest.of("") is None
    assert FacetRequest.of("brand,price") == FacetRequest.parse(["brand", "price"])
    for bad, reason in (
        ("colour", "unknown facet"),
        ({"fields": "all", "price_edges": "10,5"}, "ascending"),
        ({"fields": "all", "price_edges": "ten"}, "numbers"),
        ({"fields": "all", "size": 0}, "size"),
        ({"fields": "all", "tint": 1}, "unknown facet option"),
    ):
        with pytest.raises(ValueError, match=reason):
            FacetRequest.of(bad)


def test_default_price_buckets_are_nice_numbers() -> None:
    import numpy as np

    assert [nice_number(x) for x in (0.9, 3.3, 40, 230, 400, 7000)] == [1, 2.5, 50, 250, 500, 5000]
    edges = default_price_edges(np.array([5.0, 12, 30, 55, 80, 140, 220, 480, 900, math.nan]))
    assert list(edges) == sorted(set(edges)) and len(edges) >= 3
    assert default_price_edges(np.array([math.nan])) == ()


def test_products_without_brand_category_price_or_rating_are_not_counted() -> None:
    """The sample catalog has every field on every product; other catalogs do not."""
    columns = FilterColumns(
        price=np.array([10.0, math.nan, 30.0, 99.0]),
        rating=np.array([4.5, math.nan, 2.0, 5.0]),
        in_stock=np.array([True, False, True, True]),
        brand_code=np.array([0, 1, 1, 0], dtype=np.int32),  # code 0: no brand
        category_code=np.array([1, 0, 2, 2], dtype=np.int32),  # code 0: no category
        brands=["", "acme"],
        categories=["", "tools", "tools > drills"],
    )
    index = FacetIndex.build(columns, np.ones(4, dtype=bool))
    matching = np.array([True, True, True, False])
    facets = count_facets(index, matching, FacetRequest.parse("all", price_edges=[20]), Filters())
    assert [(c.value, c.count) for c in facets.brand or ()] == [("acme", 2)]
    assert [(c.value, c.count) for c in facets.category or ()] == [("tools", 2)]
    assert [r.count for r in facets.price or ()] == [1, 1]
    assert [c.count for c in facets.in_stock or ()] == [2, 1]
    assert [r.count for r in facets.rating or ()] == [1, 1, 2, 2]


# ---------------------------------------------------------------------------------- synonyms
def test_synonyms_parse_solr_format() -> None:
    rules = Synonyms.parse(
        "# shop words\ncouch, sofa, settee\nflat screen => monitor\nT-Shirt => t shirt, tee\n\n"
    )
    assert rules.rules[("couch",)] == (("couch",), ("sofa",), ("settee",))
    assert rules.rules[("flat", "screen")] == (("monitor",),)
    assert rules.rules[("t", "shirt")] == (("t", "shirt"), ("tee",))
    slots = rules.expand(["big", "flat", "screen", "couch"])
    assert [s.phrase for s in slots] == [("big",), ("flat", "screen"), ("couch",)]
    for bad, reason in (("sofa", "two terms"), ("a => ", "both sides"), ("a => b => c", "more")):
        with pytest.raises(ValueError, match=rf"line 1: .*{reason}"):
            Synonyms.parse(bad)


def test_synonyms_reach_bm25_and_reload_without_a_rebuild(
    sample_index: Path, teacher: Any, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    engine = Engine.open(index, encoder=teacher)
    before = engine.search_page("couch", mode="bm25")
    assert before.total == 0  # no product says "couch"
    (index / SYNONYMS_FILE).write_text("couch, sofa\n", encoding="utf-8")
    assert engine.refresh_synonyms()
    after = engine.search_page("couch", mode="bm25", k=5, highlight=True)
    assert after.total > 0 and all(h.match is MatchKind.ALL_WORDS for h in after.hits)
    for hit in after.hits:  # the synonym is what is marked
        assert hit.highlights is not None and hit.highlights.title.spans
        a, b = hit.highlights.title.spans[0]
        assert hit.product.title[a:b].lower() == "sofa"
    one_way = "sofa => loveseat\n"
    (index / SYNONYMS_FILE).write_text(one_way, encoding="utf-8")
    os.utime(index / SYNONYMS_FILE, ns=(1, 1))  # a change even within the clock's resolution
    assert engine.refresh_synonyms()
    loveseats = engine.search_page("sofa", mode="bm25", k=100)  # searched as "loveseat" only
    assert loveseats.hits and all("loveseat" in all_text(h.product).lower() for h in loveseats.hits)
    assert not any("sofa" in all_text(h.product).lower() for h in loveseats.hits)
    (index / SYNONYMS_FILE).write_text("sofa, => \n", encoding="utf-8")  # broken: kept
    assert not engine.refresh_synonyms()
    assert engine.synonyms.error and len(engine.synonyms.rules) == 1
    (index / SYNONYMS_FILE).unlink()
    assert engine.refresh_synonyms() and len(engine.synonyms.rules) == 0


def test_a_long_query_keeps_a_first_page_of_nearest_products(
    sample_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long natural-language queries have flat similarities: one floor at 0.7 x the nearest
    cut their first page short (NFCorpus dense nDCG@10 0.305 -> 0.285); the 10 nearest
    need only 0.5 x, the rest of the candidates still 0.7 x."""
    from tinyseek.search import matching

    query = "boil water quickly for tea"
    full = sample_engine.search_page(query, mode="dense", k=20)
    assert full.total >= matching.TOP_NEAREST
    monkeypatch.setattr(matching, "TOP_FLOOR", matching.RELATIVE_FLOOR)
    cut = sample_engine.search_page(query, mode="dense", k=20)
    assert cut.total < matching.TOP_NEAREST  # the query exercises the lower floor
    assert [h.doc_id for h in cut.hits] == [h.doc_id for h in full.hits][: cut.total]
    for nonsense in ("xqzzy", "zzqv wxkj"):
        assert sample_engine.search_page(nonsense, mode="dense").total == 0


def test_a_dense_facet_count_is_the_total_its_filter_gives(sample_engine: Engine) -> None:
    """Clicking a facet shows as many products as it said: the dense floors are judged on
    the whole catalog, so a filter only removes products. (In hybrid mode BM25's partial
    matches are re-ranked within the filter, so counts are only mostly equal there.)"""
    for query in ("chair", "boil water quickly for tea", "lamp for reading"):
        page = sample_engine.search_page(query, mode="dense", facets="brand")
        assert page.facets is not None and page.facets.brand, query
        for value in page.facets.brand[:5]:
            filtered = sample_engine.search_page(
                query, mode="dense", filters={"brand": value.value}
            )
            assert filtered.total == value.count, (query, value.value)


@pytest.mark.parametrize("filters", [{}, {"category": "Furniture"}], ids=["none", "category"])
def test_full_matches_beyond_the_ranked_depth_all_count(
    sample_engine: Engine, filters: dict[str, Any]
) -> None:
    """With more products matching every word than were ranked, the rest are taken unscored
    (`BM25Index.ordinals`): totals and facets as if every one had been ranked."""
    for query in ("chair", "lamp", "black", "steel"):
        ranked = sample_engine.search_page(
            query, mode="bm25", filters=filters, candidates=1000, facets="all"
        )
        shallow = sample_engine.search_page(
            query, mode="bm25", filters=filters, candidates=3, facets="all"
        )
        assert shallow.total == ranked.total > 3, query
        assert shallow.facets == ranked.facets, query


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_full_matches_only_counted_give_the_pages_of_those_collected(
    sample_engine: Engine, mode: str
) -> None:
    """A page by relevance without facets counts the full matches beyond those ranked
    instead of collecting them (`match_set` without `listed`): the same hits, match kinds
    and total as the page that collects them for its facets, deep pages included."""
    for query in ("chair", "lamp", "black", "steel", "oak table"):
        for offset in (0, 5):
            for filters in ({}, {"category": "Furniture"}):
                args = {"mode": mode, "filters": filters, "candidates": 3, "offset": offset}
                counted = sample_engine.search_page(query, k=10, **args)
                collected = sample_engine.search_page(query, k=10, facets="brand", **args)
                assert counted.total == collected.total, (query, offset, filters)
                assert [(h.doc_id, h.match) for h in counted.hits] == [
                    (h.doc_id, h.match) for h in collected.hits
                ], (query, offset, filters)


def test_full_matches_are_collected_while_tombstones_remain(tmp_path: Path) -> None:
    """Deleted products stay in tantivy until compaction and tantivy counts them: the
    total then comes from the live products collected, with or without facets."""
    products = [Product(id=f"P{i}", title=f"Oak chair model {i}") for i in range(40)]
    build_index(products, tmp_path / "idx", HashingEncoder())
    with IndexWriter(tmp_path / "idx", HashingEncoder()) as writer:
        writer.delete([f"P{i}" for i in range(10)])
        writer.commit()
    engine = Engine.open(tmp_path / "idx", encoder=HashingEncoder())
    generation = engine._generation
    assert generation.bm25.num_docs() > generation.live_count == 30  # tombstones in tantivy
    for facets in (None, "brand"):
        page = engine.search_page("oak chair", mode="bm25", candidates=3, facets=facets)
        assert page.total == 30


def test_the_flat_disjunction_scores_as_one_nested_per_word(sample_engine: Engine) -> None:
    """BM25's any-word query is one flat disjunction of (field, word) terms (so tantivy can
    prune it): the same products with the same scores as the per-word disjunctions nested in
    one over the words, which is how tantivy's parser builds it."""
    bm25 = sample_engine._generation.bm25
    index = bm25._index
    searcher = index.searcher()
    for text in ("oak dining table with chairs", "lamp", "boil water quickly for tea", "x1 9"):
        tokens = query_tokens(text)
        nested, _ = index.parse_query_lenient(
            " ".join(tokens), list(bm25.boosts), field_boosts=bm25.boosts
        )
        expected = searcher.search(nested, 50).hits
        got = searcher.search(bm25.text_query(text), 50).hits
        assert len(got) == len(expected) > 0 or text == "x1 9"
        assert [a for _, a in got] == [a for _, a in expected], text
        assert [s for s, _ in got] == pytest.approx([s for s, _ in expected], rel=1e-6), text
