"""The FastAPI app factory: `create_app(settings)` builds one service around one `Engine`.

All state lives on `app.state.service` (a `Service`); nothing is module-global, so
several apps (tests, embedding) can live in one process.

Search endpoints are plain `def`: Starlette runs them in its thread pool, so the
encoder, FAISS and SQLite never block the event loop. Responses are serialised
with orjson straight from the engine's `Hit`s; the pydantic response models only
document the schema.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import orjson
from anyio import to_thread
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from tinyseek import __version__
from tinyseek.api.batching import MicroBatchingEncoder
from tinyseek.api.metrics import ServiceMetrics
from tinyseek.api.middleware import ServiceMiddleware
from tinyseek.api.schemas import (
    ErrorResponse,
    HealthResponse,
    ProductOut,
    SearchQuery,
    SearchRequest,
    SearchResponse,
    UpsertRequest,
    WriteResponse,
    query_parameters,
)
from tinyseek.api.settings import Settings
from tinyseek.api.writes import DocumentWriter, WritesUnavailable
from tinyseek.search.engine import Engine
from tinyseek.search.types import Facets, Highlight, Highlights, Hit, Product, SearchMode, SortOrder

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
DOCS_ASSETS = "/docs-assets"
SWAGGER_UI_DIR = files("fastapi_offline") / "static"
"""Swagger UI 5 (swagger-ui-bundle.js, swagger-ui.css, favicon.png) from the pinned
fastapi-offline package."""
JSON = "application/json"
ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "invalid input, with the reason"},
    503: {"model": ErrorResponse, "description": "the index is not loaded yet"},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or wrong X-API-Key"},
    403: {"model": ErrorResponse, "description": "writes are disabled (no API key configured)"},
    413: {"model": ErrorResponse, "description": "request body too large"},
    **ERRORS,
}


class Service:
    """One engine, its writer, metrics and the background generation watcher."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.load_error: str | None = None
        self.writer: DocumentWriter | None = None
        self.metrics = ServiceMetrics(lambda: self.engine)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        if engine is not None:
            self.writer = DocumentWriter(engine)

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        thread = threading.Thread(target=self._run, name="tinyseek-watcher", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if self.engine is not None and isinstance(self.engine.encoder, MicroBatchingEncoder):
            self.engine.encoder.close()
            self.engine.encoder = self.engine.encoder.inner

    def _batch_encodes(self, engine: Engine) -> None:
        """Wrap the engine's encoder (again after a reload that changed it) for micro-batching."""
        max_batch = self.settings.micro_batch
        if max_batch > 1 and not isinstance(engine.encoder, MicroBatchingEncoder):
            engine.encoder = MicroBatchingEncoder(engine.encoder, max_batch)

    def _run(self) -> None:
        if self.engine is None:
            self._load()
        else:
            self._batch_encodes(self.engine)
        interval = self.settings.reload_interval
        if self.engine is None or interval <= 0:
            return
        last_error = ""
        while not self._stop.wait(interval):
            self.engine.refresh_synonyms()
            try:
                if self.engine.reload_if_changed():
                    self._batch_encodes(self.engine)
                    warm_up(self.engine)
                    self.metrics.reloads.inc()
                    log.info("serving generation %s", self.engine.generation.name)
                last_error = ""
            except Exception as exc:  # the old generation keeps serving
                self.metrics.reload_errors.inc()
                if str(exc) != last_error:
                    log.warning("could not load the new index generation: %s", exc)
                last_error = str(exc)

    def _load(self) -> None:
        settings = self.settings
        started = time.perf_counter()
        try:
            configure_threads(settings.torch_threads, settings.faiss_threads)
            encoder = None
            if settings.encoder:
                from tinyseek.models.encoder import load_encoder

                encoder = load_encoder(settings.encoder, threads=settings.torch_threads)
            engine = Engine.open(
                settings.index_dir,
                encoder=encoder,
                cache_size=settings.cache_size,
                threads=settings.torch_threads,
            )
            configure_threads(settings.torch_threads, settings.faiss_threads)  # torch loaded now
            self._batch_encodes(engine)
            warm_up(engine)
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("could not open the index %s: %s", settings.index_dir, self.load_error)
            return
        self.writer = DocumentWriter(engine)
        self.engine = engine
        log.info(
            "loaded %s (%d products, encoder %s) in %.1f s",
            engine.generation.path,
            len(engine),
            engine.encoder.name,
            time.perf_counter() - started,
        )

    # request helpers -----------------------------------------------------------------------
    def require_engine(self) -> Engine:
        if self.engine is None:
            reason = self.load_error or "the index is still loading"
            raise HTTPException(503, f"not ready: {reason}")
        return self.engine

    def require_writer(self, api_key: str | None) -> DocumentWriter:
        expected = self.settings.api_key
        if not expected:
            raise HTTPException(
                403,
                "document writes are disabled: no API key is configured "
                "(start the service with TINYSEEK_API_KEY set)",
            )
        if api_key is None or not secrets.compare_digest(api_key.encode(), expected.encode()):
            raise HTTPException(
                401, "missing or wrong X-API-Key header", headers={"WWW-Authenticate": "X-API-Key"}
            )
        self.require_engine()
        assert self.writer is not None  # set together with the engine
        return self.writer


def warm_up(engine: Engine) -> None:
    """A search that makes the first calls' allocations and a new generation's one-off
    measurements (`search.matching.noise_level`, facet tables), not a user's request."""
    engine.search_page("warm up", k=1, facets="all", highlight=True)


def configure_threads(torch_threads: int, faiss_threads: int) -> None:
    """Pin the thread pools: request concurrency comes from the server, not from BLAS.

    torch is configured only if something (the encoder) imported it: importing it here
    would add ~200 MB to a service whose encoder runs on ONNX Runtime.
    """
    import faiss

    faiss.omp_set_num_threads(faiss_threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(torch_threads)
        # Settable only before the first parallel work; if that happened, keep what is set.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="write key")


def hit_json(hit: Hit) -> dict[str, Any]:
    p = hit.product
    return {
        "id": hit.doc_id,
        "score": hit.score,
        "bm25": None if hit.bm25_rank is None else {"rank": hit.bm25_rank, "score": hit.bm25_score},
        "dense": None
        if hit.dense_rank is None
        else {"rank": hit.dense_rank, "score": hit.dense_score},
        "match": None if hit.match is None else hit.match.value,
        "highlights": None if hit.highlights is None else highlights_json(hit.highlights),
        "product": {
            "id": p.id,
            "title": p.title,
            "description": p.description,
            "brand": p.brand,
            "category": p.category,
            "price": p.price,
            "rating": p.rating,
            "in_stock": p.in_stock,
            "attributes": p.attributes,
            "image_url": p.image_url,
        },
    }


def highlights_json(highlights: Highlights) -> dict[str, Any]:
    def one(h: Highlight | None) -> dict[str, Any] | None:
        return None if h is None else {"text": h.text, "spans": h.spans}

    return {"title": one(highlights.title), "description": one(highlights.description)}


def facets_json(facets: Facets) -> dict[str, Any]:
    """The requested facets (the others are absent)."""
    out: dict[str, Any] = {}
    for name in ("brand", "category", "in_stock"):
        counts = getattr(facets, name)
        if counts is not None:
            out[name] = [{"value": c.value, "count": c.count} for c in counts]
    if facets.category is not None:
        out["category_level"] = facets.category_level
    for name in ("price", "rating"):
        ranges = getattr(facets, name)
        if ranges is not None:
            out[name] = [{"min": r.min, "max": r.max, "count": r.count} for r in ranges]
    return out


def _orjson_default(value: object) -> object:
    if isinstance(value, Mapping):  # e.g. a read-only attributes mapping
        return dict(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = orjson.dumps(content, default=_orjson_default, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status_code, media_type=JSON, headers=headers)


def run_search(
    request: Request,
    q: str,
    k: int,
    offset: int,
    mode: SearchMode,
    filters: dict[str, Any] | None,
    weights: dict[str, Any] | None,
    spell: bool,
    sort: SortOrder = SortOrder.RELEVANCE,
    facets: dict[str, Any] | None = None,
    highlight: bool = False,
) -> Response:
    service = service_of(request)
    settings = service.settings
    if len(q) > settings.max_query_chars:
        raise HTTPException(
            422, f"q is {len(q)} characters long; the limit is {settings.max_query_chars}"
        )
    if k > settings.max_k:
        raise HTTPException(422, f"k is {k}; the limit is {settings.max_k}")
    if offset > settings.max_offset:
        raise HTTPException(422, f"offset is {offset}; the limit is {settings.max_offset}")
    engine = service.require_engine()
    request.state.search_mode = mode.value
    started = time.perf_counter()
    generation = engine.generation
    try:
        page = engine.search_page(
            q,
            k=k,
            offset=offset,
            mode=mode,
            filters=filters,
            weights=weights,
            spell=spell,
            sort=sort,
            facets=facets,
            highlight=highlight,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    took_ms = (time.perf_counter() - started) * 1000
    return json_response(
        {
            "query": q,
            "corrected_query": page.corrected_query,
            "mode": mode.value,
            "sort": page.sort.value,
            "k": k,
            "offset": offset,
            "total": page.total,
            "currency": generation.manifest.get("currency"),
            "generation": generation.name,
            "took_ms": round(took_ms, 3),
            "hits": [hit_json(h) for h in page.hits],
            "facets": None if page.facets is None else facets_json(page.facets),
        },
        headers={"Server-Timing": f"search;dur={took_ms:.3f}"},
    )


def facet_options(
    names: str | list[str] | None,
    size: int,
    category_level: int | None,
    price_buckets: str | list[float] | None,
) -> dict[str, Any] | None:
    """`Engine.search_page`'s facets argument from request fields (None: no facets)."""
    if not names:
        return None
    return {
        "fields": names,
        "size": size,
        "category_level": category_level,
        "price_edges": price_buckets,
    }


def _present(values: dict[str, Any]) -> dict[str, Any] | None:
    given = {key: value for key, value in values.items() if value is not None}
    return given or None


# endpoints --------------------------------------------------------------------------------
def search_get(request: Request) -> Response:
    """Search with query parameters. Unknown parameters are refused (422), not ignored.

    The parameters are validated by one pydantic model rather than declared one by one:
    FastAPI's per-parameter machinery cost more than the BM25 search itself.
    """
    try:
        params = SearchQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None
    filters = _present(
        {
            "category": params.category,
            "brand": params.brand,
            "price_min": params.price_min,
            "price_max": params.price_max,
            "rating_min": params.rating_min,
            "in_stock": params.in_stock,
        }
    )
    weights = _present(
        {
            "bm25": params.bm25_weight,
            "dense": params.dense_weight,
            "method": None if params.fusion is None else params.fusion.value,
            "rrf_k": params.rrf_k,
        }
    )
    facets = facet_options(
        params.facets, params.facet_size, params.category_level, params.price_buckets
    )
    return run_search(
        request,
        params.q,
        params.k,
        params.offset,
        params.mode,
        filters,
        weights,
        params.spell,
        params.sort,
        facets,
        params.highlight,
    )


def search_post(request: Request, body: SearchRequest) -> Response:
    """Search with a JSON body (filters and weights as objects; unknown keys are refused)."""
    filters = None if body.filters is None else _present(body.filters.model_dump())
    weights = None
    if body.weights is not None:
        raw = body.weights.model_dump()
        if raw.get("method") is not None:
            raw["method"] = raw["method"].value
        weights = _present(raw)
    facets = facet_options(
        [str(getattr(f, "value", f)) for f in body.facets] if body.facets else None,
        body.facet_size,
        body.category_level,
        body.price_buckets,
    )
    return run_search(
        request,
        body.q,
        body.k,
        body.offset,
        body.mode,
        filters,
        weights,
        body.spell,
        body.sort,
        facets,
        body.highlight,
    )


def get_document(request: Request, doc_id: str) -> Response:
    """One product by id (404 if absent or deleted)."""
    engine = service_of(request).require_engine()
    store = engine.generation.store
    ordinal = store.ordinal_of(doc_id)
    if ordinal is None:
        raise HTTPException(404, f"no product with id {doc_id!r}")
    (product,) = store.get([ordinal])
    return json_response(product.to_dict())


def upsert_documents(
    request: Request,
    body: UpsertRequest,
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Response:
    """Insert or replace products by id; the change is searchable when this returns."""
    service = service_of(request)
    writer = service.require_writer(api_key)
    limit = service.settings.max_batch_docs
    if len(body.products) > limit:
        raise HTTPException(
            422, f"{len(body.products)} products in one request; the limit is {limit}"
        )
    try:
        products = [Product.from_dict(p.model_dump()) for p in body.products]
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        result = writer.upsert(products)
    except WritesUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from None
    service.metrics.writes.labels("upsert").inc(result.upserted)
    return json_response(result.__dict__)


def delete_document(
    request: Request,
    doc_id: str,
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Response:
    """Delete one product by id (404 if absent)."""
    service = service_of(request)
    writer = service.require_writer(api_key)
    try:
        result = writer.delete([doc_id])
    except KeyError:
        raise HTTPException(404, f"no product with id {doc_id!r}") from None
    except WritesUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from None
    service.metrics.writes.labels("delete").inc(result.deleted)
    return json_response(result.__dict__)


async def healthz() -> Response:
    """Liveness: the process answers (async: never queued behind searches)."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: 200 once an index generation is loaded, 503 before (or if loading failed)."""
    service = service_of(request)
    engine = service.engine
    if engine is None:
        status = "failed" if service.load_error else "loading"
        return json_response(
            {"status": status, "detail": service.load_error or "the index is still loading"},
            status_code=503,
        )
    return json_response(
        {
            "status": "ready",
            "generation": engine.generation.name,
            "products": len(engine),
            "encoder": engine.encoder.name,
        }
    )


def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    registry = service_of(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


def openapi_schema(request: Request) -> Response:
    return json_response(request.app.openapi())


def api_docs() -> HTMLResponse:
    """Swagger UI from the pinned fastapi-offline package's assets, served here: works offline."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="tinyseek API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
    )


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """A service over `settings.index_dir` (or over `engine`, already open)."""
    service = Service(settings, engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Searches are CPU-bound: more threads than cores only adds contention and memory.
        to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="tinyseek",
        version=__version__,
        description="Hybrid BM25 + dense product search. Writes need the X-API-Key header.",
        lifespan=lifespan,
        # Served below as ordinary routes: counted in /metrics, and no CDN for the docs.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
    app.add_middleware(ServiceMiddleware, service=service)

    route: Callable[..., Any] = app.add_api_route
    route(
        "/search",
        search_get,
        methods=["GET"],
        response_model=SearchResponse,
        responses=ERRORS,
        tags=["search"],
        summary="Search (query parameters)",
        openapi_extra={"parameters": query_parameters(SearchQuery)},
    )
    route(
        "/search",
        search_post,
        methods=["POST"],
        response_model=SearchResponse,
        responses={**ERRORS, 413: WRITE_ERRORS[413]},
        tags=["search"],
        summary="Search (JSON body)",
    )
    route(
        "/documents/{doc_id}",
        get_document,
        methods=["GET"],
        response_model=ProductOut,
        responses={404: {"model": ErrorResponse}, **ERRORS},
        tags=["documents"],
    )
    route(
        "/documents",
        upsert_documents,
        methods=["POST"],
        response_model=WriteResponse,
        responses=WRITE_ERRORS,
        tags=["documents"],
    )
    route(
        "/documents/{doc_id}",
        delete_document,
        methods=["DELETE"],
        response_model=WriteResponse,
        responses={404: {"model": ErrorResponse}, **WRITE_ERRORS},
        tags=["documents"],
    )
    route("/healthz", healthz, methods=["GET"], response_model=HealthResponse, tags=["ops"])
    route(
        "/readyz",
        readyz,
        methods=["GET"],
        response_model=HealthResponse,
        responses={503: {"model": HealthResponse}},
        tags=["ops"],
    )
    route(
        "/metrics",
        metrics,
        methods=["GET"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
        tags=["ops"],
    )
    route("/", page, methods=["GET"], include_in_schema=False)
    route("/openapi.json", openapi_schema, methods=["GET"], include_in_schema=False)
    route("/docs", api_docs, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(SWAGGER_UI_DIR)), name="docs-assets")
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (used with several workers): settings from TINYSEEK_*."""
    return create_app(Settings())  # type: ignore[call-arg]
