"""Request and response bodies of the HTTP API (they define the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tinyseek.api.settings import MAX_K, MAX_OFFSET, MAX_QUERY_CHARS
from tinyseek.search.types import FusionMethod, SearchMode

Strict = ConfigDict(extra="forbid", allow_inf_nan=False)
ProductId = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class FiltersIn(BaseModel):
    """Structured filters; every given one must match."""

    model_config = Strict

    category: str | None = Field(default=None, max_length=512, description="category path prefix")
    brand: str | None = Field(default=None, max_length=256, description="exact brand")
    price_min: float | None = None
    price_max: float | None = None
    rating_min: float | None = None
    in_stock: bool | None = None


class WeightsIn(BaseModel):
    """Hybrid fusion: retriever weights and method; unset fields keep the index defaults."""

    model_config = Strict

    bm25: float | None = Field(default=None, ge=0, le=1000)
    dense: float | None = Field(default=None, ge=0, le=1000)
    method: FusionMethod | None = None
    rrf_k: int | None = Field(default=None, ge=1, le=100_000)


class SearchRequest(BaseModel):
    model_config = Strict

    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="search text")
    k: int = Field(default=10, ge=1, le=MAX_K, description="number of results")
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="results to skip")
    mode: SearchMode = SearchMode.HYBRID
    filters: FiltersIn | None = None
    weights: WeightsIn | None = None
    spell: bool = Field(
        default=True, description="correct misspelt words from the catalog's vocabulary first"
    )


class SearchQuery(BaseModel):
    """GET /search query parameters (validated in one pass; unknown names are refused)."""

    model_config = Strict

    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="search text")
    k: int = Field(default=10, ge=1, le=MAX_K, description="number of results")
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="results to skip")
    mode: SearchMode = SearchMode.HYBRID
    category: str | None = Field(default=None, max_length=512, description="category prefix")
    brand: str | None = Field(default=None, max_length=256, description="exact brand")
    price_min: float | None = None
    price_max: float | None = None
    rating_min: float | None = None
    in_stock: bool | None = None
    bm25_weight: float | None = Field(default=None, ge=0, le=1000)
    dense_weight: float | None = Field(default=None, ge=0, le=1000)
    fusion: FusionMethod | None = None
    rrf_k: int | None = Field(default=None, ge=1, le=100_000)
    spell: bool = Field(
        default=True, description="correct misspelt words from the catalog's vocabulary first"
    )


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


class HitOut(BaseModel):
    id: str
    score: float = Field(description="fused score (the retriever's own score in bm25/dense mode)")
    bm25: Contribution | None = Field(description="null when BM25 did not retrieve it")
    dense: Contribution | None = Field(description="null when the dense retriever did not")
    product: ProductOut


class SearchResponse(BaseModel):
    query: str
    corrected_query: str | None = Field(
        description="what was searched when misspelt words were corrected; null otherwise"
    )
    mode: SearchMode
    k: int
    offset: int
    generation: str
    took_ms: float = Field(description="server time for the search, in milliseconds")
    hits: list[HitOut]


class ProductIn(BaseModel):
    """A product to insert or replace (matched by id)."""

    model_config = Strict

    id: ProductId
    title: str = Field(min_length=1, max_length=2000)
    description: str = Field(default="", max_length=100_000)
    brand: str = Field(default="", max_length=256)
    category: str = Field(default="", max_length=1000)
    price: float | None = Field(default=None, ge=0)
    rating: float | None = None
    in_stock: bool = True
    attributes: dict[str, str] = Field(default_factory=dict)


class UpsertRequest(BaseModel):
    model_config = Strict

    products: list[ProductIn] = Field(min_length=1)


class WriteResponse(BaseModel):
    upserted: int = 0
    deleted: int = 0
    generation: str
    revision: int = Field(description="the generation's revision after this write (searchable)")


class ErrorResponse(BaseModel):
    detail: Any = Field(description="why the request was refused")


class HealthResponse(BaseModel):
    status: str
    generation: str | None = None
    products: int | None = None
    encoder: str | None = None
    detail: str | None = None
