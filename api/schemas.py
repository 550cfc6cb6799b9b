"""Request and response bodies of the HTTP API (they define the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic import Strict as StrictMode

from tinyseek.api.settings import MAX_BATCH_DOCS, MAX_K, MAX_OFFSET, MAX_QUERY_CHARS
from tinyseek.search import validation as rules
from tinyseek.search.facets import MAX_PRICE_EDGES, MAX_SIZE
from tinyseek.search.types import FacetField, FusionMethod, MatchKind, SearchMode, SortOrder

Strict = ConfigDict(extra="forbid", allow_inf_nan=False)
StrictBody = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
"""JSON bodies: no coercion ("1" is not a number, 0 is not false), as the schema says."""
# The same rules as the readers and the writer (search.validation), so the schema admits
# exactly what the handlers accept.
ProductId = Annotated[
    str, StringConstraints(min_length=1, max_length=rules.MAX_ID_CHARS, pattern=rules.ID_PATTERN)
]
NOT_BLANK = f"[^{rules.WHITESPACE}]"
CATEGORY_PREFIX = f"[^{rules.WHITESPACE}>]"
"""A category filter names at least one level (levels are split on '>' and stripped)."""


def _json_integer(value: object) -> object:
    """JSON numbers with no fraction are integers (53.0 is 53); text and booleans are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
Weight = Annotated[float, Field(gt=0, le=1000)]
"""A retriever weight; a retriever is left out with mode=bm25 or mode=dense, not weight 0."""


class FiltersIn(BaseModel):
    """Structured filters; every given one must match."""

    model_config = StrictBody

    category: str | None = Field(
        default=None, max_length=512, pattern=CATEGORY_PREFIX, description="category path prefix"
    )
    brand: str | None = Field(default=None, max_length=256, description="exact brand")
    price_min: float | None = None
    price_max: float | None = None
    rating_min: float | None = None
    in_stock: bool | None = None


class WeightsIn(BaseModel):
    """Hybrid fusion: retriever weights and method; unset fields keep the index defaults."""

    model_config = StrictBody

    bm25: Weight | None = None
    dense: Weight | None = None
    method: FusionMethod | None = Field(default=None, strict=False)
    rrf_k: Annotated[int, Field(ge=1, le=100_000), BeforeValidator(_json_integer)] | None = None


# Spaces only around the items (what any client sends): a narrower rule than the handler's
# strip() keeps the schema within what the handler accepts, and the regex small.
_NAME = f" *(?:all|{'|'.join(f.value for f in FacetField)})? *"
FACET_NAMES = f"^{_NAME}(?:,{_NAME})*$"
"""GET's `facets`: facet names (or all) separated by commas."""
_EDGE = r" *(?:[+-]?(?:[0-9]{1,15}(?:\.[0-9]{0,15})?|\.[0-9]{1,15}))? *"
PRICE_EDGES = f"^{_EDGE}(?:,{_EDGE}){{0,{MAX_PRICE_EDGES - 1}}}$"
"""GET's `price_buckets`: at most MAX_PRICE_EDGES decimal numbers separated by commas."""
SORT_HELP = "relevance (default), price_asc, price_desc or rating (highest first)"
FACETS_HELP = (
    "facets to count over the matching products: all, or some of brand, category, price, "
    "in_stock, rating (none when absent)"
)
FACET_SIZE_HELP = "at most this many brands and categories (default 10)"
LEVEL_HELP = "count categories at this path level (default: one below the category filter)"
PRICE_HELP = "price bucket edges (default: the index's)"
HIGHLIGHT_HELP = "mark the query's words in each hit's title and description"


class SearchRequest(BaseModel):
    model_config = StrictBody

    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="search text")
    k: JsonInt = Field(default=10, ge=1, le=MAX_K, description="number of results")
    offset: JsonInt = Field(default=0, ge=0, le=MAX_OFFSET, description="results to skip")
    mode: SearchMode = Field(default=SearchMode.HYBRID, strict=False)
    filters: FiltersIn | None = None
    weights: WeightsIn | None = None
    spell: bool = Field(
        default=True, description="correct misspelt words from the catalog's vocabulary first"
    )
    sort: SortOrder = Field(default=SortOrder.RELEVANCE, strict=False, description=SORT_HELP)
    facets: list[Annotated[FacetField, StrictMode(False)] | Literal["all"]] | None = Field(
        default=None, max_length=10, description=FACETS_HELP
    )
    facet_size: JsonInt = Field(default=10, ge=1, le=MAX_SIZE, description=FACET_SIZE_HELP)
    category_level: Annotated[int, Field(ge=1, le=100), BeforeValidator(_json_integer)] | None = (
        Field(default=None, description=LEVEL_HELP)
    )
    price_buckets: list[float] | None = Field(
        default=None, max_length=MAX_PRICE_EDGES, description=PRICE_HELP + ", in any order"
    )
    highlight: bool = Field(default=False, description=HIGHLIGHT_HELP)


class SearchQuery(BaseModel):
    """GET /search query parameters (validated in one pass; unknown names are refused)."""

    model_config = Strict

    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="search text")
    k: int = Field(default=10, ge=1, le=MAX_K, description="number of results")
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="results to skip")
    mode: SearchMode = SearchMode.HYBRID
    category: str | None = Field(
        default=None, max_length=512, pattern=CATEGORY_PREFIX, description="category prefix"
    )
    brand: str | None = Field(default=None, max_length=256, description="exact brand")
    price_min: float | None = None
    price_max: float | None = None
    rating_min: float | None = None
    in_stock: bool | None = None
    bm25_weight: Weight | None = None
    dense_weight: Weight | None = None
    fusion: FusionMethod | None = None
    rrf_k: int | None = Field(default=None, ge=1, le=100_000)
    spell: bool = Field(
        default=True, description="correct misspelt words from the catalog's vocabulary first"
    )
    sort: SortOrder = Field(default=SortOrder.RELEVANCE, description=SORT_HELP)
    facets: str | None = Field(
        default=None,
        max_length=200,
        pattern=FACET_NAMES,
        description=FACETS_HELP + "; comma-separated",
    )
    facet_size: int = Field(default=10, ge=1, le=MAX_SIZE, description=FACET_SIZE_HELP)
    category_level: int | None = Field(default=None, ge=1, le=100, description=LEVEL_HELP)
    price_buckets: str | None = Field(
        default=None,
        max_length=1000,
        pattern=PRICE_EDGES,
        description=PRICE_HELP + "; comma-separated, in any order",
    )
    highlight: bool = Field(default=False, description=HIGHLIGHT_HELP)


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI `parameters` for a model validated from the query string by hand."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            param["description"] = description
        params.append(param)
    return params


class Contribution(BaseModel):
    """One retriever's rank (1-based) and raw score for a hit."""

    rank: int
    score: float


class ProductOut(BaseModel):
    id: str
    title: str
    description: str
    brand: str
    category: str
    price: float | None
    rating: float | None
    in_stock: bool
    attributes: dict[str, str]
    image_url: str = ""


class HighlightOut(BaseModel):
    text: str
    spans: list[tuple[int, int]] = Field(
        description="[start, end) character offsets of the matched words in text"
    )


class HighlightsOut(BaseModel):
    title: HighlightOut
    description: HighlightOut | None = Field(
        description="a window of the description around the matches (its start without any)"
    )


class HitOut(BaseModel):
    id: str
    score: float = Field(description="fused score (the retriever's own score in bm25/dense mode)")
    bm25: Contribution | None = Field(description="null when BM25 did not retrieve it")
    dense: Contribution | None = Field(description="null when the dense retriever did not")
    match: MatchKind = Field(
        description="all_words: contains every word (or a synonym); some_words: BM25 found "
        "some; semantic: only the dense retriever found it (close in meaning)"
    )
    highlights: HighlightsOut | None = Field(
        default=None, description="with highlight=true: the query's words marked"
    )
    product: ProductOut


class FacetCountOut(BaseModel):
    value: str
    count: int


class RangeCountOut(BaseModel):
    min: float | None = Field(description="inclusive; null: no lower bound")
    max: float | None = Field(description="inclusive; null: no upper bound")
    count: int


class FacetsOut(BaseModel):
    """Counts over all the matching products (only the requested facets are present)."""

    brand: list[FacetCountOut] | None = None
    category: list[FacetCountOut] | None = None
    category_level: int | None = None
    price: list[RangeCountOut] | None = None
    in_stock: list[FacetCountOut] | None = None
    rating: list[RangeCountOut] | None = Field(default=None, description="rated `min` and up")


class SearchResponse(BaseModel):
    query: str
    corrected_query: str | None = Field(
        description="what was searched when misspelt words were corrected; null otherwise"
    )
    mode: SearchMode
    sort: SortOrder
    k: int
    offset: int
    total: int = Field(description="products matching the query and filters (see the README)")
    currency: str | None = Field(description="ISO 4217 code of the catalog's prices, if known")
    generation: str
    took_ms: float = Field(description="server time for the search, in milliseconds")
    hits: list[HitOut]
    facets: FacetsOut | None = Field(description="null unless facets were requested")


class ProductIn(BaseModel):
    """A product to insert or replace (matched by id)."""

    model_config = StrictBody

    id: ProductId
    title: str = Field(min_length=1, max_length=rules.MAX_TITLE_CHARS, pattern=NOT_BLANK)
    description: str = Field(default="", max_length=rules.MAX_DESCRIPTION_CHARS)
    brand: str = Field(default="", max_length=rules.MAX_BRAND_CHARS)
    category: str = Field(default="", max_length=rules.MAX_CATEGORY_CHARS)
    price: float | None = Field(default=None, ge=rules.PRICE_MIN)
    rating: float | None = Field(default=None, ge=rules.RATING_MIN, le=rules.RATING_MAX)
    in_stock: bool = True
    attributes: dict[
        Annotated[str, StringConstraints(max_length=rules.MAX_ATTRIBUTE_KEY_CHARS)],
        Annotated[str, StringConstraints(max_length=rules.MAX_ATTRIBUTE_VALUE_CHARS)],
    ] = Field(default_factory=dict, max_length=rules.MAX_ATTRIBUTES)
    image_url: str = Field(
        default="",
        max_length=rules.MAX_IMAGE_URL_CHARS,
        pattern=rules.IMAGE_URL_PATTERN,
        description="a picture of the product: an http(s) URL or a path the shop serves",
    )


class UpsertRequest(BaseModel):
    model_config = StrictBody

    products: list[ProductIn] = Field(min_length=1, max_length=MAX_BATCH_DOCS)


class WriteResponse(BaseModel):
    """A 200 means the write is durable: in the index's journal, fsynced."""

    upserted: int = 0
    deleted: int = 0
    seq: int = Field(description="the journal record holding this write")
    pending: bool = Field(
        description="false: searchable now; true: another writer (a rebuild) holds the index, "
        "and the write is applied as soon as it finishes (a rebuild replays it)"
    )
    generation: str
    revision: int = Field(description="the served generation's revision")


class ErrorResponse(BaseModel):
    detail: Any = Field(description="why the request was refused")


class HealthResponse(BaseModel):
    status: str
    generation: str | None = None
    revision: int | None = None
    products: int | None = None
    encoder: str | None = None
    pending_writes: int | None = None
    detail: str | None = None
