"""The HTTP service, tested as a user runs it: `tinyseek serve DIR --port P` in a subprocess.

One small index (the first products of the sample catalog) and one server are
shared by the whole module; only loopback traffic.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE

API_KEY = "test-key-123"
SUBSET = 120  # products of the sample catalog in the test index
TINYSEEK = Path(sys.executable).with_name("tinyseek")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def api_products() -> list[Any]:
    from tinyseek.indexer.readers import Reject, read_catalog

    items = [p for p in read_catalog(SAMPLE / "corpus.jsonl") if not isinstance(p, Reject)]
    return items[:SUBSET]


@pytest.fixture(scope="module")
def api_index(
    tmp_path_factory: pytest.TempPathFactory, teacher: Any, api_products: list[Any]
) -> Path:
    from tinyseek.indexer.build import build_index

    out = tmp_path_factory.mktemp("api-index")
    build_index(api_products, out, teacher)
    return out


@pytest.fixture(scope="module")
def server(api_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `tinyseek serve` process; yields its base URL once /readyz says ready."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server-log") / "serve.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TINYSEEK_API_KEY": API_KEY,
        "TINYSEEK_RELOAD_INTERVAL": "0.2",
        "TINYSEEK_CACHE_SIZE": "0",
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(TINYSEEK), "serve", str(api_index), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready in time:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


# ---------------------------------------------------------------------------------- health
def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["pending_writes"] == 0 and "detail" not in ready
    assert ready["products"] >= SUBSET - 5  # other tests may add or delete a product
    assert ready["generation"].startswith("gen-")


# ---------------------------------------------------------------------------------- search
def test_search_get_reports_each_retrievers_contribution(client: httpx.Client) -> None:
    response = client.get("/search", params={"q": "sofa", "k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "hybrid" and body["k"] == 5 and body["took_ms"] > 0
    assert 1 <= len(body["hits"]) <= 5
    assert "search;dur=" in response.headers["server-timing"]
    both = [h for h in body["hits"] if h["bm25"] and h["dense"]]
    assert both, "hybrid hits for a plain word should come from both retrievers"
    for hit in both:
        assert hit["bm25"]["rank"] >= 1 and hit["dense"]["rank"] >= 1
        assert isinstance(hit["bm25"]["score"], float) and -1.01 <= hit["dense"]["score"] <= 1.01
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_search_post_matches_get_and_pages(client: httpx.Client) -> None:
    got = client.get("/search", params={"q": "lamp", "k": 6}).json()["hits"]
    posted = client.post("/search", json={"q": "lamp", "k": 6}).json()["hits"]
    assert [h["id"] for h in got] == [h["id"] for h in posted]
    page2 = client.post("/search", json={"q": "lamp", "k": 3, "offset": 3}).json()["hits"]
    assert [h["id"] for h in page2] == [h["id"] for h in got[3:6]]


@pytest.mark.parametrize("mode", ["bm25", "dense"])
def test_single_retriever_modes(client: httpx.Client, mode: str) -> None:
    hits = client.get("/search", params={"q": "chair", "mode": mode}).json()["hits"]
    assert hits
    other = "dense" if mode == "bm25" else "bm25"
    assert all(h[mode] is not None and h[other] is None for h in hits)


def test_filters_restrict_results(client: httpx.Client, api_products: list[Any]) -> None:
    brand = api_products[0].brand
    body = {"q": "home", "k": 20, "filters": {"brand": brand.upper(), "in_stock": True}}
    hits = client.post("/search", json=body).json()["hits"]
    assert hits
    assert {h["product"]["brand"].lower() for h in hits} == {brand.lower()}
    assert all(h["product"]["in_stock"] for h in hits)
    cheap = client.get("/search", params={"q": "home", "k": 20, "price_max": 50}).json()["hits"]
    assert all(h["product"]["price"] is not None and h["product"]["price"] <= 50 for h in cheap)


def test_get_document(client: httpx.Client, api_products: list[Any]) -> None:
    product = api_products[1]
    body = client.get(f"/documents/{product.id}").json()
    assert body["id"] == product.id and body["title"] == product.title
    missing = client.get("/documents/no-such-id")
    assert missing.status_code == 404 and "no-such-id" in missing.json()["detail"]


# ---------------------------------------------------------------------------------- limits
LIMIT_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("long q", "GET", {"q": "a" * 513}, "512"),
    ("k too big", "GET", {"q": "sofa", "k": 101}, "less than or equal to 100"),
    ("offset too big", "GET", {"q": "sofa", "offset": 1001}, "less than or equal to 1000"),
    ("k zero", "GET", {"q": "sofa", "k": 0}, "greater than or equal to 1"),
    ("bad mode", "GET", {"q": "sofa", "mode": "fuzzy"}, "hybrid"),
    ("unknown GET param", "GET", {"q": "sofa", "colour": "red"}, "colour"),
    ("long q POST", "POST", {"q": "a" * 513}, "512"),
    ("empty category", "POST", {"q": "x", "filters": {"category": " > "}}, "pattern"),
    ("bad filter type", "POST", {"q": "x", "filters": {"price_min": "cheap"}}, "number"),
    ("unknown filter key", "POST", {"q": "x", "filters": {"colour": "red"}}, "colour"),
    ("bad mode POST", "POST", {"q": "x", "mode": "fuzzy"}, "hybrid"),
    ("zero weights", "POST", {"q": "x", "weights": {"bm25": 0, "dense": 0}}, "greater than 0"),
    ("zero weight GET", "GET", {"q": "x", "bm25_weight": 0}, "greater than 0"),
    ("unknown body key", "POST", {"q": "x", "top_k": 3}, "top_k"),
    ("k as text", "POST", {"q": "x", "k": "many"}, "integer"),
]


@pytest.mark.parametrize(
    ("method", "payload", "reason"),
    [c[1:] for c in LIMIT_CASES],
    ids=[c[0] for c in LIMIT_CASES],
)
def test_invalid_input_gets_4xx_with_reason(
    client: httpx.Client, method: str, payload: dict[str, Any], reason: str
) -> None:
    if method == "GET":
        response = client.get("/search", params=payload)
    else:
        response = client.post("/search", json=payload)
    assert response.status_code == 422, response.text
    assert reason in json.dumps(response.json()["detail"])


@pytest.mark.parametrize(
    "payload",
    [
        {"q": "   "},
        {"q": "\x00\x01"},
        {"q": "\u200b"},
        {"q": "sofa", "filters": {"price_min": 9, "price_max": 1}},
    ],
    ids=["blank q", "control characters only", "format character only", "empty price range"],
)
def test_queries_that_match_nothing_answer_no_hits(
    client: httpx.Client, payload: dict[str, Any]
) -> None:
    """The schema admits these, so they are not errors: nothing can match them."""
    response = client.post("/search", json={**payload, "facets": ["brand", "in_stock"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["hits"] == [] and body["total"] == 0
    assert body["facets"]["brand"] == [] and body["facets"]["in_stock"] == [
        {"value": "true", "count": 0},
        {"value": "false", "count": 0},
    ]


def test_sort_facets_and_highlights_get_and_post_alike(client: httpx.Client) -> None:
    params = {"q": "lamp", "k": 5, "sort": "price_asc", "facets": "brand,price,in_stock"}
    got = client.get("/search", params={**params, "highlight": "true", "price_buckets": "50,100"})
    body = {**params, "facets": ["brand", "price", "in_stock"], "price_buckets": [50, 100.0]}
    posted = client.post("/search", json={**body, "highlight": True, "facet_size": 5.0})
    assert got.status_code == posted.status_code == 200, (got.text, posted.text)
    g, p = got.json(), posted.json()
    assert [h["id"] for h in g["hits"]] == [h["id"] for h in p["hits"]]
    assert g["sort"] == "price_asc" and g["total"] == p["total"] >= len(g["hits"]) > 0
    prices = [h["product"]["price"] for h in g["hits"]]
    assert prices == sorted(prices)
    assert g["facets"]["price"] == p["facets"]["price"]
    assert [(b["min"], b["max"]) for b in g["facets"]["price"]] == [
        (None, 50.0),
        (50.0, 100.0),
        (100.0, None),
    ]
    assert sum(c["count"] for c in g["facets"]["in_stock"]) == g["total"]
    assert "category" not in g["facets"]  # not asked for
    marked = [h for h in g["hits"] if h["highlights"]["title"]["spans"]]
    assert marked, "a title containing 'lamp' is marked"
    for hit in marked:
        text = hit["highlights"]["title"]["text"]
        assert all(
            text[a:b].lower().startswith("lamp") for a, b in hit["highlights"]["title"]["spans"]
        )
    unhighlighted = client.get("/search", params={"q": "lamp", "k": 2}).json()
    assert unhighlighted["facets"] is None and unhighlighted["hits"][0]["highlights"] is None
    refused = client.post("/search", json={"q": "lamp", "sort": "cheapest"})
    assert refused.status_code == 422 and "sort" in refused.text


def test_huge_body_refused_before_parsing(client: httpx.Client) -> None:
    big = b'{"q": "' + b"a" * (2 << 20) + b'"}'
    response = client.post("/search", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        step = 64 << 10
        for i in range(0, len(big), step):
            yield big[i : i + step]

    streamed = client.post(
        "/search", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_malformed_json_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/search", content=b'{"q": "sofa",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in json.dumps(response.json()["detail"])


# ---------------------------------------------------------------------------------- writes
def test_writes_need_the_key(client: httpx.Client) -> None:
    doc = {"products": [{"id": "nokey-1", "title": "Should Not Land"}]}
    assert client.post("/documents", json=doc).status_code == 401
    assert client.post("/documents", json=doc, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.delete("/documents/TS-000101").status_code == 401
    assert client.get("/documents/nokey-1").status_code == 404


def test_upsert_then_delete_visible_in_next_search(client: httpx.Client) -> None:
    key = {"X-API-Key": API_KEY}
    product = {
        "id": "api-test-zq1",
        "title": "Quillwort Periscope Hammock",
        "brand": "Zephyrine",
        "category": "Outdoor > Hammocks",
        "price": 77.5,
        "attributes": {"color": "teal"},
    }
    added = client.post("/documents", json={"products": [product]}, headers=key)
    assert added.status_code == 200, added.text
    assert added.json()["upserted"] == 1 and added.json()["revision"] >= 1
    hits = client.get("/search", params={"q": "quillwort periscope", "k": 3}).json()["hits"]
    assert hits[0]["id"] == "api-test-zq1"
    assert client.get("/documents/api-test-zq1").json()["brand"] == "Zephyrine"

    renamed = {**product, "title": "Quillwort Periscope Hammock Deluxe", "price": 99.0}
    assert client.post("/documents", json={"products": [renamed]}, headers=key).status_code == 200
    hits = client.get("/search", params={"q": "quillwort periscope", "k": 3}).json()["hits"]
    assert [h["id"] for h in hits].count("api-test-zq1") == 1
    assert hits[0]["product"]["price"] == 99.0

    deleted = client.delete("/documents/api-test-zq1", headers=key)
    assert deleted.status_code == 200 and deleted.json()["deleted"] == 1
    hits = client.get("/search", params={"q": "quillwort periscope", "k": 3}).json()["hits"]
    assert "api-test-zq1" not in [h["id"] for h in hits]
    assert client.get("/documents/api-test-zq1").status_code == 404
    assert client.delete("/documents/api-test-zq1", headers=key).status_code == 404


def test_misspelt_queries_are_corrected_from_the_live_vocabulary(client: httpx.Client) -> None:
    plain = client.get("/search", params={"q": "sofa", "k": 5}).json()
    assert plain["corrected_query"] is None
    typo = client.get("/search", params={"q": "sfoa", "k": 5}).json()
    assert typo["query"] == "sfoa" and typo["corrected_query"] == "sofa"
    assert [h["id"] for h in typo["hits"]] == [h["id"] for h in plain["hits"]]
    raw = client.post("/search", json={"q": "sfoa", "k": 5, "spell": False}).json()
    assert raw["corrected_query"] is None

    # A word enters the vocabulary with the products that use it, and leaves with them.
    key = {"X-API-Key": API_KEY}
    new = [
        {"id": f"api-spell-{i}", "title": f"Xanthorrhoea Planter {i}", "category": "Garden"}
        for i in range(2)
    ]
    assert client.post("/documents", json={"products": new}, headers=key).status_code == 200
    fixed = client.get("/search", params={"q": "xanthorhoea planter", "k": 3}).json()
    assert fixed["corrected_query"] == "xanthorrhoea planter"
    assert {h["id"] for h in fixed["hits"][:2]} == {"api-spell-0", "api-spell-1"}
    for item in new:
        assert client.delete(f"/documents/{item['id']}", headers=key).status_code == 200
    gone = client.get("/search", params={"q": "xanthorhoea planter", "k": 3}).json()
    assert gone["corrected_query"] is None


def test_writes_under_a_query_loop_fail_no_request(client: httpx.Client, server: str) -> None:
    failures: list[str] = []
    done = 0
    stop = threading.Event()

    def query_loop() -> None:
        nonlocal done
        with httpx.Client(base_url=server, timeout=30) as c:
            while not stop.is_set():
                for mode in ("hybrid", "bm25", "dense"):
                    r = c.get("/search", params={"q": "loop lantern", "mode": mode, "k": 20})
                    if r.status_code != 200:
                        failures.append(f"{r.status_code}: {r.text[:200]}")
                    done += 1

    thread = threading.Thread(target=query_loop)
    thread.start()
    key = {"X-API-Key": API_KEY}
    try:
        for i in range(4):
            doc = {"products": [{"id": f"loop-{i}", "title": f"Loop Lantern number {i}"}]}
            assert client.post("/documents", json=doc, headers=key).status_code == 200
        for i in range(4):
            assert client.delete(f"/documents/loop-{i}", headers=key).status_code == 200
    finally:
        stop.set()
        thread.join(timeout=30)
    assert failures == []
    assert done > 8


def test_invalid_products_refused(client: httpx.Client) -> None:
    key = {"X-API-Key": API_KEY}
    for bad in (
        {"id": "x"},
        {"id": "", "title": "t"},
        {"id": "x", "title": "t", "price": -1},
        {"id": "x", "title": "t", "image_url": "javascript:alert(1)"},
        {"id": "x", "title": "t", "image_url": "data:text/html;base64,PHNjcmlwdD4="},
        {"id": "x", "title": "t", "image_url": "https://shop.example/a b.jpg"},
    ):
        response = client.post("/documents", json={"products": [bad]}, headers=key)
        assert response.status_code == 422, response.text
    assert client.post("/documents", json={"products": []}, headers=key).status_code == 422


def test_write_while_another_writer_holds_the_index_is_durable_and_applied_after(
    client: httpx.Client, api_index: Path
) -> None:
    """A rebuild holds the writer lock: the write is journaled (200, pending) and applied
    by the service's applier as soon as the lock frees."""
    from tinyseek.indexer.lock import WriterLock

    key = {"X-API-Key": API_KEY}
    lock = WriterLock(api_index)
    lock.acquire()
    try:
        doc = {"products": [{"id": "locked-1", "title": "Quillfeather Blocked Lantern"}]}
        response = client.post("/documents", json=doc, headers=key)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["pending"] is True and body["upserted"] == 1 and body["seq"] >= 1
        assert client.get("/documents/locked-1").status_code == 404  # not applied yet
        # a delete of the pending product is judged against the journal, not only the index
        assert client.delete("/documents/locked-1", headers=key).json()["pending"] is True
        again = client.post("/documents", json=doc, headers=key).json()
        assert again["pending"] is True and again["seq"] == body["seq"] + 2
    finally:
        lock.release()
    # applied = the served generation includes it (/readyz counts what it lacks); the store
    # row alone (GET /documents) can show a moment before the searcher reloads
    deadline = time.monotonic() + 20
    while client.get("/readyz").json().get("pending_writes") != 0:
        assert time.monotonic() < deadline, "the pending write was never applied"
        time.sleep(0.1)
    assert client.get("/documents/locked-1").status_code == 200
    hits = client.get("/search", params={"q": "Quillfeather Lantern", "mode": "bm25"}).json()
    assert hits["hits"][0]["id"] == "locked-1"
    assert client.delete("/documents/locked-1", headers=key).json()["pending"] is False


def test_writes_disabled_without_a_configured_key(api_index: Path) -> None:
    from fastapi.testclient import TestClient

    from tinyseek.api import Settings, create_app

    app = create_app(Settings(index_dir=api_index, api_key=None))
    local = TestClient(app)  # no lifespan, so no index load: the key check comes first
    doc = {"products": [{"id": "k", "title": "t"}]}
    response = local.post("/documents", json=doc, headers={"X-API-Key": "anything"})
    assert response.status_code == 403
    assert "TINYSEEK_API_KEY" in response.json()["detail"]
    assert local.delete("/documents/k").status_code == 403
    assert local.get("/readyz").status_code == 503


def test_searches_keep_their_threads_when_each_request_is_a_task_of_its_own(
    api_index: Path, teacher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray Serve's replicas run each request as its own task on a loop that runs forever;
    anyio's worker threads end with the task that started them, so searches on them started
    a thread per request and opened the document store again on each. The service's own
    search threads outlive requests: the store is opened once per thread, not per search."""
    import asyncio

    from tinyseek.api import Settings, create_app
    from tinyseek.search import Engine
    from tinyseek.search.store import DocStore

    opened: list[threading.Thread] = []
    connect = DocStore._connect

    def counting(self: DocStore) -> Any:
        opened.append(threading.current_thread())
        return connect(self)

    monkeypatch.setattr(DocStore, "_connect", counting)
    engine = Engine.open(api_index, encoder=teacher)
    app = create_app(Settings(index_dir=api_index, request_threads=2), engine)
    expected = [h.doc_id for h in engine.search("garden hose", k=5)]
    opened.clear()
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()

    async def search(method: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.request(method, "/search", **kwargs)

    query = {"q": "garden hose", "k": 5}
    try:
        for i in range(8):
            request = search("GET", params=query) if i % 2 else search("POST", json=query)
            response = asyncio.run_coroutine_threadsafe(request, loop).result(timeout=60)
            assert response.status_code == 200, response.text
            assert [h["id"] for h in response.json()["hits"]] == expected
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(timeout=10)
        loop.close()
    assert 1 <= len(opened) <= 2, f"the store was opened {len(opened)} times for 8 searches"
    assert all(t.name.startswith("tinyseek-search") for t in opened)


# ---------------------------------------------------------------------------------- hot reload
def test_new_generation_picked_up_without_failed_requests(
    client: httpx.Client, api_index: Path, api_products: list[Any], teacher: Any, server: str
) -> None:
    from tinyseek.indexer.build import build_index
    from tinyseek.search.types import Product

    before = client.get("/readyz").json()["generation"]
    failures: list[str] = []
    seen: list[tuple[str, str | None]] = []
    stop = threading.Event()

    def query_loop() -> None:
        with httpx.Client(base_url=server, timeout=30) as c:
            while not stop.is_set():
                try:
                    r = c.get("/search", params={"q": "xylophagous gazebo", "k": 1})
                    if r.status_code != 200:
                        failures.append(f"{r.status_code}: {r.text[:200]}")
                        continue
                    body = r.json()
                    top = body["hits"][0]["id"] if body["hits"] else None
                    seen.append((body["generation"], top))
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    thread = threading.Thread(target=query_loop)
    thread.start()
    try:
        time.sleep(0.5)
        extra = Product(id="reload-1", title="Xylophagous Gazebo Kit", brand="Reloader")
        build_index([*api_products, extra], api_index, teacher)
        deadline = time.monotonic() + 60
        while not (seen and seen[-1][1] == "reload-1") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)  # a few more queries on the new generation
    finally:
        stop.set()
        thread.join(timeout=30)
    assert failures == []
    generations = [g for g, _ in seen]
    assert generations[0] == before and generations[-1] != before
    assert seen[-1][1] == "reload-1"
    assert len(seen) > 10


# ---------------------------------------------------------------------------------- metrics & docs
def test_metrics_exposition(client: httpx.Client) -> None:
    client.get("/search", params={"q": "sofa"})
    client.get("/search", params={"q": "sofa", "mode": "bm25"})
    client.get("/search", params={"q": "sofa", "k": 1000})
    for path in ("/docs", "/openapi.json", "/static/app.js"):
        assert client.get(path).status_code == 200
    paths = ("/docs", "/openapi.json", "/static")
    counted = [f'_total{{endpoint="{e}",method="GET"' for e in paths]
    deadline = time.monotonic() + 10
    while True:  # a request is counted once its response is sent: allow for that moment
        text = client.get("/metrics").text
        if all(c in text for c in counted) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert all(c in text for c in counted)  # never endpoint="unmatched"
    assert 'tinyseek_http_requests_total{endpoint="/search",method="GET",status="200"}' in text
    assert 'tinyseek_http_requests_total{endpoint="/search",method="GET",status="422"}' in text
    assert 'tinyseek_search_latency_seconds_bucket{le="0.005",mode="hybrid"}' in text
    assert 'tinyseek_search_latency_seconds_count{mode="bm25"}' in text
    for name in (
        "tinyseek_index_generation ",
        "tinyseek_index_info{",
        "tinyseek_products ",
        "tinyseek_encoder_info{",
        "tinyseek_query_cache_hit_ratio ",
        "tinyseek_ready 1.0",
        "tinyseek_generation_refused 0.0",
        "tinyseek_writes_pending 0.0",
    ):
        assert name in text, name


def test_openapi_and_page(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/search", "/documents", "/documents/{doc_id}", "/healthz", "/readyz"} <= set(
        schema["paths"]
    )
    assert "X-API-Key" in json.dumps(schema["components"]["securitySchemes"])
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "fetch(" in client.get("/static/app.js").text


# ---------------------------------------------------------------------------------- fuzzing
def test_openapi_fuzz_never_5xx(server: str) -> None:
    """Requests generated from the schema for every operation: never a server error, and
    never refused as invalid (the schema admits nothing the handlers refuse)."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    failures: list[str] = []
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            response = case.call(timeout=30)
            calls.append(response.status_code)
            if response.status_code >= 500 or response.status_code == 422:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} "
                    f"{case.query!r} {case.body!r} {response.text[:200]}"
                )

        fuzz()
    assert failures == []
    assert len(calls) > 100 and any(s == 200 for s in calls)


# ---------------------------------------------------------------------------------- demo
def test_demo_builds_its_index_and_serves(
    tmp_path: Path, api_products: list[Any], compact_home: Path
) -> None:
    """`tinyseek demo` indexes with the default compact encoder (the tiny one stands in)."""
    catalog = tmp_path / "catalog.jsonl"
    with catalog.open("w", encoding="utf-8") as fh:
        for product in api_products[:30]:
            fh.write(json.dumps(product.to_dict()) + "\n")
    port = free_port()
    shutil.copytree(compact_home / "encoder-default", tmp_path / "home" / "encoder-default")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TINYSEEK_HOME": str(tmp_path / "home")}
    command = [str(TINYSEEK), "demo", "--port", str(port), "--catalog", str(catalog)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            lines.append(line)
            if f"http://127.0.0.1:{port}/" in line or not line:
                break
        assert any(f"open http://127.0.0.1:{port}/" in line for line in lines), lines
        demo_index = tmp_path / "home" / "demo-index"
        generation = demo_index / (demo_index / "CURRENT").read_text().strip()
        manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["encoder"]["name"].startswith("tinyseek-encoder-")  # compact default
        assert "currency" not in manifest  # plain numbers, no --currency
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        assert ready.json()["products"] == 30
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "tinyseek" in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_demo_knows_the_sample_is_in_dollars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinyseek.api.cli import demo_currency

    monkeypatch.chdir(SAMPLE.parent)
    assert demo_currency(Path("sample_data/corpus.jsonl"), None) == "USD"  # as make demo says it
    assert demo_currency(SAMPLE / "corpus.jsonl", "EUR") == "EUR"
    other = tmp_path / "corpus.jsonl"
    other.write_text("", encoding="utf-8")
    assert demo_currency(other, None) is None


def test_the_schema_and_the_handlers_agree_on_edge_cases(client: httpx.Client) -> None:
    key = {"X-API-Key": API_KEY}
    assert client.post("/search", json={"q": "sofa", "k": "10"}).status_code == 422
    assert client.post("/search", json={"q": "sofa", "k": 10.0}).status_code == 200
    bad = {"products": [{"id": "strict-1", "title": "Strict", "in_stock": 0}]}
    assert client.post("/documents", json=bad, headers=key).status_code == 422
    lone = '{"products": [{"id": "sur-1", "title": "Broken \\udc80 text"}]}'  # not Unicode
    response = client.post(
        "/documents", content=lone, headers={**key, "content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    blank = {"products": [{"id": "blank-1", "title": "\x1f\u3000"}]}  # whitespace to str.strip
    assert client.post("/documents", json=blank, headers=key).status_code == 422
    for path, allowed in (("/documents/x", "DELETE, GET"), ("/search", "GET, POST")):
        response = client.request("PUT", path)
        assert response.status_code == 405 and response.headers["allow"] == allowed
    assert client.get("/documents/a%2Fb").status_code in (404, 422)
    assert (
        client.post(
            "/documents", json={"products": [{"id": "a/b", "title": "Slash"}]}, headers=key
        ).status_code
        == 422
    )
    assert client.delete("/documents/%20SP-none%20", headers=key).status_code == 404
