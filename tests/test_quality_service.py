"""The service reports its quality and guards it: gauges in /metrics, /quality, the
scheduled re-evaluation rolling a forced bad build back (with every acknowledged write
replayed, no failed request) and raising the alarm for in-place deletes (kept).

The sample catalog and its labels, with the hashing test encoder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.serving import serve
from tests.test_indexer_support import HashingEncoder
from tests.test_quality_gate import (  # noqa: F401  (the fixture)
    _hashing_encoders,
    degraded,
    sample_labels,
    write_catalog,
)
from tinyseek.indexer.build import build_catalog
from tinyseek.indexer.quality import attach_labels, load_labels, publish_report, read_history
from tinyseek.search.layout import current_generation
from tinyseek.search.types import Product

API_KEY = "quality-key"
INTERVAL = 0.5


def gauges(text: str, name: str) -> dict[str, float]:
    """Values of one metric family from a Prometheus exposition, by their labels as
    exposed ('config="hybrid",generation="gen-000001"'; '' for none)."""
    found = {}
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def at(config: str, generation: str = "gen-000001") -> str:
    return f'config="{config}",generation="{generation}"'


@pytest.fixture
def guarded_catalog(tmp_path: Path, sample_products: list[Product]) -> tuple[Path, Path]:
    """(index, catalog file): the sample catalog, indexed from a file an hour old (writes
    made after it are replayed onto any rebuild), with the sample's labels attached."""
    from tinyseek.eval.labels import read_reference

    catalog = write_catalog(tmp_path / "catalog.jsonl", sample_products)
    old = time.time() - 3600
    os.utime(catalog, (old, old))
    index = tmp_path / "index"
    build_catalog(catalog, index, HashingEncoder())
    labels, _ = read_reference(sample_labels(tmp_path / "labels.csv"))
    attach_labels(index, labels)
    return index, catalog


def test_gauges_and_quality_endpoint(guarded_catalog: tuple[Path, Path]) -> None:
    from fastapi.testclient import TestClient

    from tinyseek.api import Settings, create_app
    from tinyseek.search.engine import Engine

    index, _ = guarded_catalog
    engine = Engine.open(index, encoder=HashingEncoder())
    report = publish_report(current_generation(index))
    assert report is not None
    with TestClient(create_app(Settings(index_dir=index), engine)) as client:
        text = client.get("/metrics").text
        ndcg = gauges(text, "tinyseek_quality_ndcg_at_10")
        f1 = gauges(text, "tinyseek_quality_f1_at_10")
        for mode in ("hybrid", "bm25", "dense"):
            assert ndcg[at(mode)] == pytest.approx(report.configs[mode]["ndcg@10"])
            assert f1[at(mode)] == pytest.approx(report.configs[mode]["f1@10"])
        assert gauges(text, "tinyseek_quality_recall_at_100")[at("hybrid")] > 0
        sizes = gauges(text, "tinyseek_quality_labels")
        assert sizes['kind="queries"'] == 83 and sizes['kind="sampled"'] == 83
        assert sizes['kind="judgements"'] > 1000
        assert gauges(text, "tinyseek_quality_alarm") == {"": 0.0}
        body = client.get("/quality").json()
        assert body["labels"]["queries"] == 83 and body["labels"]["tolerance"] == 0.03
        assert body["served"]["generation"] == "gen-000001"
        assert body["served"]["report"]["verdict"] == "attached"
        assert body["served"]["report"]["configs"]["hybrid"]["ndcg@10"] == pytest.approx(
            report.configs["hybrid"]["ndcg@10"]
        )
        assert [h["verdict"] for h in body["history"]] == ["attached"]
        assert body["alarm"] is None and body["rollbacks"] == 0

    (index / "quality" / "labels.json").unlink()  # no labels: no quality gauges
    with TestClient(create_app(Settings(index_dir=index), engine)) as client:
        assert "tinyseek_quality_ndcg_at_10" not in client.get("/metrics").text
        assert client.get("/quality").json()["labels"] is None


def reader(base: str, stop: threading.Event, failures: list[str], reads: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            for mode in ("hybrid", "bm25", "dense"):
                try:
                    response = client.get("/search", params={"q": "oak desk", "mode": mode})
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:200]}")
                except httpx.TransportError as exc:
                    failures.append(repr(exc))
                reads[0] += 1
            time.sleep(0.01)


def hashing_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "tests.hashing_cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def wait_for(condition, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - started


def test_forced_bad_build_is_rolled_back_with_every_write_and_deletes_raise_the_alarm(
    guarded_catalog: tuple[Path, Path], tmp_path: Path, sample_products: list[Product]
) -> None:
    index, _ = guarded_catalog
    worse = degraded(tmp_path / "worse.jsonl", sample_products, index)
    old = time.time() - 1800  # an export older than the writes below: they are replayed
    os.utime(worse, (old, old))
    env = {
        "TINYSEEK_API_KEY": API_KEY,
        "TINYSEEK_QUALITY_INTERVAL": str(INTERVAL),
        "TINYSEEK_WRITE_LOCK_WAIT": "0.2",
    }
    key = {"X-API-Key": API_KEY}
    stop, failures, reads = threading.Event(), [], [0]  # type: ignore[var-annotated]
    with serve(index, tmp_path / "serve.log", env) as server:
        thread = threading.Thread(target=reader, args=(server.base, stop, failures, reads))
        thread.start()
        client = httpx.Client(base_url=server.base, timeout=30)
        try:
            acknowledged = {}
            for i in range(3):  # acknowledged before the bad build
                title = f"Quality guard test lamp {i}"
                product = {"id": f"QG-{i}", "title": title}
                r = client.post("/documents", json={"products": [product]}, headers=key)
                assert r.status_code == 200, r.text
                acknowledged[f"QG-{i}"] = title
            labels = load_labels(index)
            assert labels is not None
            unjudged = next(p.id for p in sample_products if p.id not in labels.judged_ids())
            r = client.delete(f"/documents/{unjudged}", headers=key)
            assert r.status_code == 200, r.text

            result = hashing_cli("index", str(worse), "--out", str(index), "--force")
            assert result.returncode == 0, result.stderr
            assert "publishing gen-000002 although" in result.stderr
            published = time.monotonic()
            for i in range(3, 6):  # acknowledged while the bad build may be served
                title = f"Quality guard test lamp {i}"
                r = client.post(
                    "/documents",
                    json={"products": [{"id": f"QG-{i}", "title": title}]},
                    headers=key,
                )
                assert r.status_code == 200, r.text
                acknowledged[f"QG-{i}"] = title

            def rolled_back() -> bool:
                body = client.get("/quality").json()
                return body["rollbacks"] >= 1 and body["served"]["generation"] == "gen-000001"

            wait_for(rolled_back)
            switched = time.monotonic() - published
            body = client.get("/quality").json()
            (action,) = [a for a in body["actions"] if a["kind"] == "rollback"]
            assert action["from"].startswith("gen-000002@") and action["to"] == "gen-000001"
            assert "f1@10 of hybrid fell" in action["why"]
            verdicts = [(h["generation"], h["verdict"]) for h in body["history"]]
            assert ("gen-000002", "forced") in verdicts and ("gen-000002", "replaced") in verdicts
            assert ("gen-000001", "rollback") in verdicts
            for pid, title in acknowledged.items():  # every acknowledged write is there
                r = client.get(f"/documents/{pid}")
                assert r.status_code == 200 and r.json()["title"] == title, (pid, r.text)
            assert client.get(f"/documents/{unjudged}").status_code == 404
            metrics = client.get("/metrics").text
            assert gauges(metrics, "tinyseek_quality_rollbacks_total") == {"": 1.0}
            assert at("hybrid") in gauges(metrics, "tinyseek_quality_ndcg_at_10")

            # the shop deletes relevant products itself: kept, and the alarm goes up
            queries = sorted(labels.queries, key=lambda q: q.query_id)[:8]
            gone = sorted({pid for q in queries for pid in labels.relevant(q)})
            for pid in gone:
                assert client.delete(f"/documents/{pid}", headers=key).status_code == 200
            wait_for(lambda: client.get("/quality").json()["alarm"] is not None)
            alarm = client.get("/quality").json()["alarm"]
            assert alarm["generation"] == "gen-000001" and alarm["lost"]
            assert any(d["metric"] == "ndcg@10" for d in alarm["drops"])
            assert gauges(client.get("/metrics").text, "tinyseek_quality_alarm") == {"": 1.0}
            assert client.get("/quality").json()["served"]["generation"] == "gen-000001"
            assert all(client.get(f"/documents/{pid}").status_code == 404 for pid in gone)
        finally:
            stop.set()
            thread.join()
            client.close()
    log = (tmp_path / "serve.log").read_text()
    assert "rolling back to it, with every write acknowledged since replayed" in log
    assert "WARNING" in log and "fell after in-place writes" in log and "lost" in log
    kinds = [e["kind"] for e in read_history(index)]
    assert "rollback" in kinds and "alarm" in kinds
    print(
        f"\nautomatic rollback: serving the last good build {switched:.2f} s after the forced "
        f"publish (interval {INTERVAL} s); {reads[0]} reads, {len(failures)} failed"
    )
    assert failures == []
    assert reads[0] > 0


def test_page_footer_shows_the_served_quality(
    guarded_catalog: tuple[Path, Path], tmp_path: Path
) -> None:
    from tests.browser import find_chromium

    browser = find_chromium()
    if browser is None:
        pytest.skip("no Chromium found (apt-get install -y --no-install-recommends chromium)")
    index, _ = guarded_catalog
    report = publish_report(current_generation(index))
    assert report is not None
    hybrid = report.configs["hybrid"]
    with serve(index, tmp_path / "serve.log") as server:
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000", "--dump-dom", f"{server.base}/",
        ]  # fmt: skip
        dom = subprocess.run(command, capture_output=True, text=True, timeout=90).stdout
    footer = re.search(r'<footer id="quality"[^>]*>(.*?)</footer>', dom, flags=re.S)
    assert footer is not None, dom[-2000:]
    assert "hidden" not in footer.group(0).split(">")[0]
    assert footer.group(1) == (
        f"Search quality on 83 labelled queries: F1@10 {hybrid['f1@10']:.3f} · "
        f"nDCG@10 {hybrid['ndcg@10']:.3f} (gen-000001)"
    )
