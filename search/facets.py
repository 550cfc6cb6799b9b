"""Facet counts over a matching set: brands, category levels, price buckets, stock, rating.

Counting is vectorised over the generation's filter columns (`FilterColumns`): the matching
set arrives as a boolean mask over ordinals, and each facet is one `np.bincount` or a few
comparisons, so a facet costs microseconds whatever the size of the matching set.

Counts are over the same filtered set the results come from ("conjunctive" facets): with
`brand=Aurelle`, the brand facet lists Aurelle alone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinyseek.search.filters import FilterColumns, Filters, normalise_category
from tinyseek.search.types import FacetCount, FacetField, Facets, RangeCount

DEFAULT_SIZE = 10
MAX_SIZE = 1000
MAX_PRICE_EDGES = 50
RATING_STEPS = (4.0, 3.0, 2.0, 1.0)
PRICE_QUANTILES = (0.2, 0.4, 0.6, 0.8)
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class FacetRequest:
    """Which facets to count, and how."""

    fields: frozenset[FacetField] = frozenset(FacetField)
    size: int = DEFAULT_SIZE
    """At most this many brands and categories, the most frequent first."""
    category_level: int | None = None
    """Count category paths cut at this many levels (1 = departments). Default: one level
    below the `category` filter, or 1 without one, so a page drills down."""
    price_edges: tuple[float, ...] | None = None
    """Price bucket edges, ascending. Default: the index's (`default_price_edges`)."""

    def __post_init__(self) -> None:
        if not 1 <= self.size <= MAX_SIZE:
            raise ValueError(f"facet size must be within 1-{MAX_SIZE}, got {self.size}")
        if self.category_level is not None and not 1 <= self.category_level <= 100:
            raise ValueError(f"category_level must be within 1-100, got {self.category_level}")
        edges = self.price_edges
        if edges is not None:
            if len(edges) > MAX_PRICE_EDGES:
                raise ValueError(f"at most {MAX_PRICE_EDGES} price bucket edges")
            if not all(math.isfinite(e) for e in edges):
                raise ValueError("price bucket edges must be finite numbers")
            if any(b <= a for a, b in itertools.pairwise(edges)):
                raise ValueError("price bucket edges must be strictly ascending")

    @classmethod
    def parse(
        cls,
        fields: str | Iterable[str] = "all",
        size: int = DEFAULT_SIZE,
        category_level: int | None = None,
        price_edges: str | Sequence[float] | None = None,
    ) -> FacetRequest:
        """From user input: `fields` is "all" or names (a list, or one comma-separated string;
        "all" among them means all), `price_edges` numbers (or one comma-separated string);
        ValueError with the reason."""
        names = [f.strip() for f in fields.split(",")] if isinstance(fields, str) else list(fields)
        names = [n for n in names if n]
        if "all" in names:
            chosen = frozenset(FacetField)
        else:
            try:
                chosen = frozenset(FacetField(n) for n in names)
            except ValueError:
                valid = ", ".join(["all", *(f.value for f in FacetField)])
                raise ValueError(f"unknown facet in {names}; facets: {valid}") from None
        edges: tuple[float, ...] | None = None
        if isinstance(price_edges, str):
            try:
                edges = tuple(float(e) for e in price_edges.split(",") if e.strip())
            except ValueError:
                raise ValueError(
                    f"price bucket edges must be numbers separated by commas, got {price_edges!r}"
                ) from None
        elif price_edges is not None:
            edges = tuple(float(e) for e in price_edges)
        return cls(frozenset(chosen), size, category_level, edges)

    @classmethod
    def of(
        cls, value: FacetRequest | str | Iterable[str] | Mapping[str, Any] | None
    ) -> FacetRequest | None:
        """`Engine.search_page`'s `facets` argument: a request, field names, or a mapping of
        `parse`'s arguments; None or nothing named means no facets."""
        if value is None or isinstance(value, FacetRequest):
            return value
        if isinstance(value, Mapping):
            known = {"fields", "size", "category_level", "price_edges"}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ValueError(f"unknown facet option(s) {', '.join(unknown)}; valid: {known}")
            request = cls.parse(**value)
        else:
            request = cls.parse(value)
        return request if request.fields else None


def nice_number(value: float) -> float:
    """The closest of 1, 2, 2.5, 5 times a power of ten (in ratio)."""
    if value <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    return min((step * power for step in NICE_STEPS), key=lambda n: abs(math.log(n / value)))


def default_price_edges(prices: np.ndarray) -> tuple[float, ...]:
    """Bucket edges near the quintiles of the catalog's prices, rounded to nice numbers."""
    known = prices[np.isfinite(prices)]
    if len(known) == 0:
        return ()
    quantiles = np.quantile(known, PRICE_QUANTILES)
    edges = sorted({nice_number(float(q)) for q in quantiles} - {0.0})
    return tuple(edges)


@dataclass(frozen=True)
class Labels:
    """A facet's values by code: their labels, and each one's rank in name order (the
    tie-break between equal counts), so picking the top values needs no Python sort."""

    labels: list[str]
    ranks: np.ndarray

    @classmethod
    def of(cls, labels: list[str]) -> Labels:
        ranks = np.empty(len(labels), dtype=np.int64)
        ranks[sorted(range(len(labels)), key=lambda c: labels[c].lower())] = np.arange(len(labels))
        return cls(labels, ranks)


@dataclass
class FacetIndex:
    """Per-generation lookup tables for facets (built once, read by every search)."""

    columns: FilterColumns
    alive: np.ndarray
    price_edges: tuple[float, ...]
    _levels: dict[int, tuple[np.ndarray, Labels]] = field(default_factory=dict)
    _brands: Labels | None = None

    @classmethod
    def build(cls, columns: FilterColumns, alive: np.ndarray) -> FacetIndex:
        return cls(columns, alive, default_price_edges(columns.price[alive]))

    def brands(self) -> Labels:
        """Each brand code's label (code 0: no brand)."""
        if self._brands is None:
            columns = self.columns
            self._brands = Labels.of([columns.brand_label(c) for c in range(len(columns.brands))])
        return self._brands

    def level(self, depth: int) -> tuple[np.ndarray, Labels]:
        """(code of each category's path cut at `depth` levels, -1 if it has fewer; labels)."""
        cached = self._levels.get(depth)
        if cached is not None:
            return cached
        codes = np.full(len(self.columns.categories), -1, dtype=np.int32)
        keys: dict[str, int] = {}
        labels: list[str] = []
        for code, key in enumerate(self.columns.categories):
            levels = key.split(" > ") if key else []
            if len(levels) < depth:
                continue
            prefix = " > ".join(levels[:depth])
            if prefix not in keys:
                keys[prefix] = len(labels)
                label = self.columns.category_label(code)
                labels.append(" > ".join(label.split(" > ")[:depth]))
            codes[code] = keys[prefix]
        self._levels[depth] = (codes, Labels.of(labels))
        return self._levels[depth]


def count_facets(
    index: FacetIndex, matching: np.ndarray, request: FacetRequest, filters: Filters
) -> Facets:
    """Facet counts over the products `matching` (a boolean mask over ordinals)."""
    columns = index.columns
    wanted = request.fields
    ordinals = np.flatnonzero(matching)  # gathers by index: the set is small, the mask not
    brand = category = price = in_stock = rating = None
    level = None
    if FacetField.BRAND in wanted:
        counts = np.bincount(columns.brand_code[ordinals], minlength=len(columns.brands))
        counts[0] = 0  # code 0: no brand
        brand = _top(counts, index.brands(), request.size)
    if FacetField.CATEGORY in wanted:
        level = request.category_level
        if level is None:
            chosen = normalise_category(filters.category) if filters.category else ""
            level = len(chosen.split(" > ")) + 1 if chosen else 1
        codes, labels = index.level(level)
        at_level = codes[columns.category_code[ordinals]]
        counts = np.bincount(at_level[at_level >= 0], minlength=len(labels.labels))
        category = _top(counts, labels, request.size)
    if FacetField.PRICE in wanted:
        edges = index.price_edges if request.price_edges is None else request.price_edges
        bounds = price_bounds(edges, filters.price_min, filters.price_max)
        price = _ranges(columns.price[ordinals], bounds)
    if FacetField.IN_STOCK in wanted:
        yes = int(np.count_nonzero(columns.in_stock[ordinals]))
        in_stock = (FacetCount("true", yes), FacetCount("false", len(ordinals) - yes))
    if FacetField.RATING in wanted:
        values = columns.rating[ordinals]
        with np.errstate(invalid="ignore"):  # NaN: no rating
            rating = tuple(
                RangeCount(s, None, int(np.count_nonzero(values >= s))) for s in RATING_STEPS
            )
    return Facets(
        brand=brand,
        category=category,
        category_level=level,
        price=price,
        in_stock=in_stock,
        rating=rating,
    )


def _top(counts: np.ndarray, labels: Labels, size: int) -> tuple[FacetCount, ...]:
    """The `size` most frequent values, ties in name order."""
    present = np.flatnonzero(counts)
    chosen = present[np.lexsort((labels.ranks[present], -counts[present]))[:size]]
    return tuple(FacetCount(labels.labels[c], int(counts[c])) for c in chosen.tolist())


def price_bounds(
    edges: Sequence[float], low: float | None, high: float | None
) -> list[float | None]:
    """The price buckets' bounds: the edges inside the filter's price range, between the
    range's own ends (None: open), so a range of $100-400 shows $100-200 and $200-400, not
    the catalog's $200-500."""
    inner = [e for e in edges if (low is None or e > low) and (high is None or e < high)]
    return [low, *inner, high]


def _ranges(prices: np.ndarray, bounds: Sequence[float | None]) -> tuple[RangeCount, ...]:
    """A bucket between each pair of bounds; bounds are inclusive (a product priced at an
    edge counts on both sides, as the filters do)."""
    known = prices[np.isfinite(prices)]

    def at_least(bound: float | None) -> int:
        return len(known) if bound is None else int(np.count_nonzero(known >= bound))

    def above(bound: float | None) -> int:
        return 0 if bound is None else int(np.count_nonzero(known > bound))

    return tuple(
        RangeCount(low, high, at_least(low) - above(high))
        for low, high in itertools.pairwise(bounds)
    )
