"""The FastAPI app factory: `create_app(settings)` builds one service around one `Engine`.

All state lives on `app.state.service` (a `Service`); nothing is module-global, so
several apps (tests, embedding) can live in one process.

Search endpoints are plain `def`: Starlette runs them in its thread pool, so the
encoder, FAISS and SQLite never block the event loop. Responses are serialised
with orjson straight from the engine's `Hit`s; the pydantic response models only
document the schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import orjson
from anyio import to_thread
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from tinyseek import __version__
from tinyseek.api.batching import MicroBatchingEncoder
from tinyseek.api.metrics import ServiceMetrics
from tinyseek.api.middleware import ARRIVED, ServiceMiddleware
from tinyseek.api.quality import QualityMonitor
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
from tinyseek.api.server import GuardedHttpProtocol, ServerLimits
from tinyseek.api.settings import Settings
from tinyseek.api.writes import DocumentWriter, WriteResult
from tinyseek.errors import describe
from tinyseek.indexer.journal import JournalBusyError
from tinyseek.search import validation as rules
from tinyseek.search.engine import Engine, clean_query
from tinyseek.search.layout import CorruptGenerationError
from tinyseek.search.shards import ShardedDense
from tinyseek.search.types import Facets, Highlight, Highlights, Hit, Product, SearchMode, SortOrder
from tinyseek.search.validation import check_product, clean_text, normalise_id

log = logging.getLogger(__name__)
READINESS_TTL = 1.0
STATIC_DIR = Path(__file__).resolve().parent / "static"
DOCS_ASSETS = "/docs-assets"
SWAGGER_UI_DIR = files("fastapi_offline") / "static"
"""Swagger UI 5 (swagger-ui-bundle.js, swagger-ui.css, favicon.png) from the pinned
fastapi-offline package."""
JSON = "application/json"
ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "invalid input, with the reason"},
    503: {
        "model": ErrorResponse,
        "description": "the service cannot answer now (index loading or damaged, disk full, "
        "another writer busy...), with the reason",
    },
}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "the body could not be parsed"},
    413: {"model": ErrorResponse, "description": "request body too large"},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or wrong X-API-Key"},
    403: {"model": ErrorResponse, "description": "writes are disabled (no API key configured)"},
    413: {"model": ErrorResponse, "description": "request body too large"},
    **ERRORS,
}


class Service:
    """One engine, its writer, metrics and the background generation watcher."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        open_shards: Callable[[Path], ShardedDense] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.open_shards = open_shards or ShardedDense.local
        """Opens `settings.shards`: parts in this process, or elsewhere (`api.ray_serve`)."""
        self.load_error: str | None = None
        self.refused: str | None = None
        """Why the newest generation (or revision) was refused; the last good one serves."""
        self.writer: DocumentWriter | None = None
        self.quality = QualityMonitor(
            settings.index_dir,
            lambda: self.engine,
            settings.quality_interval,
            lock_wait=max(settings.write_lock_wait, 10.0),
            reload=self.check_for_new_generation,
        )
        self.metrics = ServiceMetrics(
            lambda: self.engine,
            refused=lambda: self.refused,
            pending_writes=lambda: 0 if self.writer is None else self.writer.pending(),
            quality=self.quality,
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._readiness: tuple[float, int, dict[str, Any]] | None = None
        self._readiness_lock = threading.Lock()
        self._search_threads: ThreadPoolExecutor | None = None
        self._search_threads_lock = threading.Lock()
        if engine is not None:
            self.writer = DocumentWriter(engine, settings.write_lock_wait)

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        thread = threading.Thread(target=self._run, name="tinyseek-watcher", daemon=True)
        thread.start()
        self._threads.append(thread)
        if self.settings.quality_interval > 0:
            thread = threading.Thread(
                target=self.quality.run, args=(self._stop,), name="tinyseek-quality", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _start_applier(self) -> None:
        """Writes that waited for another writer are applied as soon as it finishes."""
        if self.writer is None or not self.settings.api_key:
            return  # a read-only service never takes the writer lock
        interval = self.settings.reload_interval or 0.5
        thread = threading.Thread(
            target=self.writer.run_applier,
            args=(self._stop, interval),
            name="tinyseek-applier",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.quality.wake()
        if self.engine is not None and self.engine.admit == self.quality.admit:
            self.engine.admit = None  # nothing checks a held build any more
        if self.writer is not None:
            self.writer.wake()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if self.engine is not None and isinstance(self.engine.encoder, MicroBatchingEncoder):
            self.engine.encoder.close()
            self.engine.encoder = self.engine.encoder.inner
        with self._search_threads_lock:
            if self._search_threads is not None:
                self._search_threads.shutdown(wait=False)
                self._search_threads = None

    @property
    def search_threads(self) -> ThreadPoolExecutor:
        """The threads searches run on (`request_threads` of them), kept for the service's
        life. Not anyio's worker threads: those end with the task that started them, so
        where each request is a task of its own on a loop that runs forever (Ray Serve's
        replicas), every search started a thread and opened the document store again."""
        with self._search_threads_lock:
            if self._search_threads is None:
                self._search_threads = ThreadPoolExecutor(
                    self.settings.request_threads, thread_name_prefix="tinyseek-search"
                )
            return self._search_threads

    def _batch_encodes(self, engine: Engine) -> None:
        """Wrap the engine's encoder (again after a reload that changed it) for micro-batching."""
        max_batch = self.settings.micro_batch
        if max_batch > 1 and not isinstance(engine.encoder, MicroBatchingEncoder):
            engine.encoder = MicroBatchingEncoder(engine.encoder, max_batch)

    def _run(self) -> None:
        interval = self.settings.reload_interval
        if self.engine is None:
            self._load()
            while self.engine is None and interval > 0 and not self._stop.wait(interval):
                self._load()  # e.g. an operator rolls back a damaged generation
        else:
            self._batch_encodes(self.engine)
        if self.engine is None:
            return
        if self.settings.quality_interval > 0:  # a suspect build is checked before it serves
            self.engine.admit = self.quality.admit
        self._start_applier()
        if interval <= 0:
            return
        while not self._stop.wait(interval):
            self.check_for_new_generation()

    def check_for_new_generation(self) -> None:
        """Serve a new generation or revision if there is one and it verifies; otherwise
        keep the current one and say why (logs, /readyz, tinyseek_generation_refused)."""
        engine = self.engine
        if engine is None:
            return
        try:
            engine.refresh_synonyms()
        except Exception as exc:  # the rules in force stay
            log.warning("could not read the synonyms file: %s", describe(exc))
        try:
            if engine.reload_if_changed():
                self._batch_encodes(engine)
                self.metrics.reloads.inc()
                log.info(
                    "serving generation %s (revision %d)",
                    engine.generation.name,
                    engine.generation.revision,
                )
                try:
                    warm_up(engine)
                except Exception as exc:  # served anyway: the first user request will say
                    log.warning("warming up %s failed: %s", engine.generation.name, describe(exc))
            engine.check_files()
            if self.refused is not None:
                log.info("generation %s verified; serving it", engine.generation.name)
            self.refused = None
        except Exception as exc:  # the old generation keeps serving
            self.metrics.reload_errors.inc()
            message = describe(exc)
            if message != self.refused:
                log.error(
                    "refused to serve the new index state (still serving %s, revision %d): %s",
                    engine.generation.name,
                    engine.generation.revision,
                    message,
                )
            self.refused = message

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
                sharded=None if settings.shards is None else self.open_shards(settings.shards),
            )
            configure_threads(settings.torch_threads, settings.faiss_threads)  # torch loaded now
            self._batch_encodes(engine)
            warm_up(engine)
        except Exception as exc:
            message = describe(exc)
            if message != self.load_error:
                log.error("could not open the index %s: %s", settings.index_dir, message)
            self.load_error = message
            return
        self.writer = DocumentWriter(engine, settings.write_lock_wait)
        self.load_error = None
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

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """(status, body) of /readyz: a real query through BM25, the dense index and the
        store of the served generation, at most once per READINESS_TTL seconds."""
        with self._readiness_lock:
            now = time.monotonic()
            cached = self._readiness
            if cached is not None and now - cached[0] < READINESS_TTL:
                return cached[1], cached[2]
            status, body = self._probe()
            self._readiness = (now, status, body)
            return status, body

    def _probe(self) -> tuple[int, dict[str, Any]]:
        engine = self.engine
        if engine is None:
            status = "failed" if self.load_error else "loading"
            return 503, {"status": status, "detail": self.load_error or "the index is loading"}
        gen = engine.generation
        body: dict[str, Any] = {
            "status": "ready",
            "generation": gen.name,
            "revision": gen.revision,
            "products": len(engine),
            "encoder": engine.encoder.name,
        }
        step = "store"
        try:
            live = np.flatnonzero(gen.alive[:1000])
            text = "probe"
            if len(live):
                (product,) = gen.store.get([int(live[0])])
                text = product.title
            step = "bm25"
            bm25 = gen.bm25.search(text, 1)
            step = "encoder"
            vector = engine.encoder.encode_queries([text])[0]
            step = "dense"
            dense = gen.dense.search(vector, 1)
            if len(live) and not (bm25 and dense):
                missing = "bm25" if not bm25 else "dense"
                raise RuntimeError(f"{missing} found nothing for a live product's title")
        except Exception as exc:
            body.update(status="failed", detail=f"{step} failed: {describe(exc)}")
            return 503, body
        notes = []
        if self.refused:
            notes.append(f"refused a newer index state: {self.refused}")
        if self.writer is not None:
            try:
                pending = self.writer.pending()
            except Exception as exc:  # reads are served; writes wait for the journal's repair
                notes.append(f"writes cannot be applied: {describe(exc)}")
            else:
                body["pending_writes"] = pending
                if pending and self.writer.last_error:
                    notes.append(f"{pending} writes pending: {self.writer.last_error}")
        if notes:
            body["detail"] = "; ".join(notes)
        return 200, body

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
        engine = self.require_engine()
        if engine.sharded:
            generation = engine.generation
            raise HTTPException(
                409,
                f"this service serves shards cut from {generation.name} revision "
                f"{generation.revision}: write with `tinyseek update` on the index, then cut "
                "the shards again (`tinyseek shard`) and redeploy",
            )
        assert self.writer is not None  # set together with the engine
        return self.writer

    def require_sound_index(self) -> None:
        """Writes wait while the served generation's newer state is refused as damaged."""
        if self.refused is not None:
            raise HTTPException(
                503,
                f"writes are suspended: the index failed verification ({self.refused})",
                headers={"Retry-After": "5"},
            )


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
    shed_if_late(request, service)
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
    q = clean_text(q)
    if filters:
        filters = {k: clean_text(v) if isinstance(v, str) else v for k, v in filters.items()}
    started = time.perf_counter()
    generation = engine.generation
    try:
        clean_query(q)
        # Filters that no product can pass: an empty page, as for a query of nothing
        empty = bool(
            filters
            and filters.get("price_min") is not None
            and filters.get("price_max") is not None
            and filters["price_min"] > filters["price_max"]
        )
    except ValueError:  # nothing searchable in q (only spaces, control characters)
        empty = True
    try:
        if empty:
            page = engine.empty_page(q, k=k, offset=offset, mode=mode, sort=sort, facets=facets)
        else:
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


T = TypeVar("T")


async def in_search_thread(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on the service's search threads (`Service.search_threads`)."""
    context = contextvars.copy_context()
    pool = service_of(request).search_threads
    return await asyncio.get_running_loop().run_in_executor(pool, context.run, fn, *args)


def shed_if_late(request: Request, service: Service) -> None:
    """503 for a search that waited past `queue_timeout` for a thread: under overload the
    service answers the excess at once and keeps the latency of what it runs, instead of
    queueing every request until clients give up on all of them."""
    limit = service.settings.queue_timeout
    arrived = request.scope.get(ARRIVED)
    if not limit or arrived is None:
        return
    waited = time.perf_counter() - arrived
    if waited > limit:
        service.metrics.shed.inc()
        raise HTTPException(
            503,
            f"overloaded: this search waited {waited:.2f} s for a search thread (the limit, "
            f"queue_timeout, is {limit:g} s); retry later",
            headers={"Retry-After": "1"},
        )


def facet_options(
    names: str | list[str] | None,
    size: int,
    category_level: int | None,
    price_buckets: str | list[float] | None,
) -> dict[str, Any] | None:
    """`Engine.search_page`'s facets argument from request fields (None: no facets). The
    service takes price bucket edges in any order (sorted, repeats dropped), as its schema
    says; the library asks for them ascending."""
    if not names:
        return None
    edges: list[float] | None = None
    if isinstance(price_buckets, str):
        edges = [float(e) for e in price_buckets.split(",") if e.strip()]
    elif price_buckets is not None:
        edges = list(price_buckets)
    return {
        "fields": names,
        "size": size,
        "category_level": category_level,
        "price_edges": None if edges is None else sorted(set(edges)),
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


async def search_post(request: Request, body: SearchRequest) -> Response:
    """Search with a JSON body (filters and weights as objects; unknown keys are refused)."""
    return await in_search_thread(request, _search_post, request, body)


def _search_post(request: Request, body: SearchRequest) -> Response:
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


DocumentId = Annotated[
    str,
    PathParam(
        min_length=1,
        max_length=rules.MAX_ID_CHARS,
        pattern=rules.ID_PATTERN,
        description="product id (percent-encoded; no '/' or control characters)",
    ),
]


def path_id(doc_id: str) -> str:
    try:
        return normalise_id(doc_id)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def get_document(request: Request, doc_id: DocumentId) -> Response:
    """One product by id (404 if absent or deleted)."""
    doc_id = path_id(doc_id)
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
    """Insert or replace products by id. A 200 means the write is durable (in the index's
    journal): searchable when this returns, or, with `pending: true`, as soon as the
    writer holding the index (a rebuild) finishes; a rebuild never drops it."""
    service = service_of(request)
    writer = service.require_writer(api_key)
    limit = service.settings.max_batch_docs
    if len(body.products) > limit:
        raise HTTPException(
            422, f"{len(body.products)} products in one request; the limit is {limit}"
        )
    try:
        products = [check_product(Product.from_dict(p.model_dump())) for p in body.products]
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    service.require_sound_index()
    result = run_write(lambda: writer.upsert([(p.id, p) for p in products]))
    service.metrics.writes.labels("upsert").inc(result.upserted)
    return json_response(result.__dict__)


def run_write(write: Callable[[], WriteResult]) -> WriteResult:
    """A write, its failures turned into 503 with the reason (never acknowledged)."""
    try:
        return write()
    except (JournalBusyError, CorruptGenerationError, OSError, RuntimeError) as exc:
        raise HTTPException(
            503, f"the write was not applied: {describe(exc)}", headers={"Retry-After": "1"}
        ) from None


def delete_document(
    request: Request,
    doc_id: DocumentId,
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Response:
    """Delete one product by id (404 if absent). A 200 means what it means for upserts."""
    service = service_of(request)
    writer = service.require_writer(api_key)
    doc_id = path_id(doc_id)
    service.require_sound_index()
    try:
        result = run_write(lambda: writer.delete(doc_id))
    except KeyError:
        raise HTTPException(404, f"no product with id {doc_id!r}") from None
    service.metrics.writes.labels("delete").inc(result.deleted)
    return json_response(result.__dict__)


async def healthz() -> Response:
    """Liveness: the process answers (async: never queued behind searches)."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: a real query through BM25, the dense index and the store of the served
    generation (at most once a second) answers 200; 503 with the reason while loading,
    or when any of them fails."""
    service = service_of(request)
    status, body = await in_search_thread(request, service.readiness)
    return json_response(body, status_code=status)


def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    registry = service_of(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def quality(request: Request) -> Response:
    """The served generation's quality on the index's reference labels: its last report,
    the alarm, the service's rollbacks and the history (`tinyseek labels attach`)."""
    return json_response(service_of(request).quality.state())


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


async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 whose Allow header lists every method the path has (a path served by several
    routes, such as GET and DELETE /documents/{id}, otherwise names only one of them)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= (route.methods or set()) - {"HEAD"}
    allow = ", ".join(sorted(methods))
    return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": allow})


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Last resort (the middleware answers first): 503 with the reason, never a bare 500."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": f"the service failed: {describe(exc)}"}, status_code=503)


class SearchFastPath:
    """`GET /search` straight to its endpoint, past FastAPI's router, request wrapper and
    exception middleware: on Home Depot they cost about as much per request as counting
    facets and marking highlights. The answers are the same: the route is recorded for
    `/metrics`, and errors become the responses the app's handlers give."""

    def __init__(self, app: ASGIApp, route: APIRoute) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != "/search":
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        request = Request(scope, receive)
        response: Response
        try:
            response = await in_search_thread(request, search_get, request)
        except HTTPException as exc:
            response = await http_exception_handler(request, exc)
        except RequestValidationError as exc:
            response = await validation_error(request, exc)
        await response(scope, receive, send)


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    open_shards: Callable[[Path], ShardedDense] | None = None,
) -> FastAPI:
    """A service over `settings.index_dir` (or over `engine`, already open); `open_shards`
    opens `settings.shards` (default: every part in this process)."""
    service = Service(settings, engine, open_shards)
    GuardedHttpProtocol.configure(
        ServerLimits(
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            max_header_bytes=settings.max_header_bytes,
            max_connections=settings.max_connections,
        )
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Blocking endpoints are CPU-bound: more threads than cores only adds contention and
        # memory. Searches run on the service's own threads (`Service.search_threads`), the
        # other blocking endpoints on anyio's; `request_threads` of each.
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
        # The service's metrics are Prometheus' (/metrics); FastAPI's OpenTelemetry bridge
        # would look up the global providers on every request to find none configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.service = service
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(405, method_not_allowed)
    app.add_exception_handler(Exception, unexpected_error)

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
        responses={**ERRORS, **BODY_ERRORS},
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
        responses={**WRITE_ERRORS, **BODY_ERRORS},
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
    route("/quality", quality, methods=["GET"], tags=["ops"], summary="Search quality report")
    route("/", page, methods=["GET"], include_in_schema=False)
    route("/openapi.json", openapi_schema, methods=["GET"], include_in_schema=False)
    route("/docs", api_docs, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(SWAGGER_UI_DIR)), name="docs-assets")
    search_route = next(
        r for r in app.routes if isinstance(r, APIRoute) and r.endpoint is search_get
    )
    app.add_middleware(SearchFastPath, route=search_route)  # inside the service middleware
    app.add_middleware(ServiceMiddleware, service=service)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (used with several workers): settings from TINYSEEK_*."""
    return create_app(Settings())  # type: ignore[call-arg]
