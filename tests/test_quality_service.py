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


def reader(
    base: str,
    stop: threading.Event,
    failures: list[str],
    reads: list[int],
    answered_by: set[str] | None = None,
) -> None:
    """Search in every mode until `stop`; collect failures and the generations answering."""
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            for mode in ("hybrid", "bm25", "dense"):
                try:
                    response = client.get("/search", params={"q": "oak desk", "mode": mode})
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:200]}")
                    elif answered_by is not None:
                        answered_by.add(response.json()["generation"])
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


GUARD_INTERVAL = 60.0
"""The rollback test's evaluation interval: the bar is a rollback within one interval of
the forced publish; this one is long enough that no scheduled run comes before it."""


def test_forced_bad_build_never_serves_and_is_rolled_back_with_every_write(
    guarded_catalog: tuple[Path, Path], tmp_path: Path, sample_products: list[Product]
) -> None:
    index, _ = guarded_catalog
    worse = degraded(tmp_path / "worse.jsonl", sample_products, index)
    old = time.time() - 1800  # an export older than the writes below: they are replayed
    os.utime(worse, (old, old))
    env = {
        "TINYSEEK_API_KEY": API_KEY,
        "TINYSEEK_QUALITY_INTERVAL": str(GUARD_INTERVAL),
        "TINYSEEK_WRITE_LOCK_WAIT": "0.2",
    }
    key = {"X-API-Key": API_KEY}
    stop, failures, reads, answered_by = threading.Event(), [], [0], set()  # type: ignore[var-annotated]
    with serve(index, tmp_path / "serve.log", env) as server:
        thread = threading.Thread(
            target=reader, args=(server.base, stop, failures, reads, answered_by)
        )
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
            for i in range(3, 6):  # acknowledged while the bad build is the published one
                title = f"Quality guard test lamp {i}"
                r = client.post(
                    "/documents",
                    json={"products": [{"id": f"QG-{i}", "title": title}]},
                    headers=key,
                )
                assert r.status_code == 200, r.text
                assert r.json()["generation"] == "gen-000001"  # the build is held back
                acknowledged[f"QG-{i}"] = title

            def rolled_back() -> bool:  # and the build rolled back to scored, recorded
                body = client.get("/quality").json()
                verdicts = [(h["generation"], h["verdict"]) for h in body["history"]]
                return body["rollbacks"] >= 1 and ("gen-000001", "rollback") in verdicts

            # The bar: within one evaluation interval of the forced publish, the last good
            # build is what serves. Here the forced build never serves at all, and the
            # rollback does not wait for a scheduled run.
            wait_for(rolled_back, timeout=GUARD_INTERVAL)
            assert time.monotonic() - published < GUARD_INTERVAL
            assert (index / "CURRENT").read_text().strip() == "gen-000001"
            body = client.get("/quality").json()
            assert body["served"]["generation"] == "gen-000001" and body["checking"] is None
            (action,) = [a for a in body["actions"] if a["kind"] == "rollback"]
            assert action["from"].startswith("gen-000002@") and action["to"] == "gen-000001"
            assert action["served"] is False  # held back, checked, rolled back
            assert re.search(r"(f1|ndcg)@10 of (hybrid|bm25|dense) fell", action["why"])
            verdicts = [(h["generation"], h["verdict"]) for h in body["history"]]
            assert ("gen-000002", "forced") in verdicts and ("gen-000002", "replaced") in verdicts
            assert ("gen-000001", "rollback") in verdicts
            (replaced,) = [h for h in body["history"] if h["verdict"] == "replaced"]
            assert len(replaced["configs"]) == 1  # stopped at the first configuration that fell
            assert body["evaluations"] == 1  # the check; no scheduled run was needed

            def all_searchable() -> bool:
                return all(
                    client.get(f"/documents/{pid}").json().get("title") == title
                    for pid, title in acknowledged.items()
                )

            wait_for(all_searchable)  # every acknowledged write is there
            r = client.get("/search", params={"q": "Quality guard test lamp 5"})
            assert r.json()["hits"][0]["id"] == "QG-5"
            assert client.get(f"/documents/{unjudged}").status_code == 404
            metrics = client.get("/metrics").text
            assert gauges(metrics, "tinyseek_quality_rollbacks_total") == {"": 1.0}
            assert at("hybrid") in gauges(metrics, "tinyseek_quality_ndcg_at_10")
        finally:
            stop.set()
            thread.join()
            client.close()
    log = (tmp_path / "serve.log").read_text()
    assert "gen-000002 was published as a forced build: checking it" in log
    assert "rolling back to it, with every write acknowledged since replayed" in log
    assert "gen-000002 never answered a search here" in log
    assert "rollback" in [e["kind"] for e in read_history(index)]
    print(f"\n{reads[0]} reads, {len(failures)} failed, answered by {sorted(answered_by)}")
    assert failures == []
    assert reads[0] > 0 and answered_by == {"gen-000001"}


def test_forced_build_served_at_start_is_rolled_back_and_deletes_raise_the_alarm(
    guarded_catalog: tuple[Path, Path], tmp_path: Path, sample_products: list[Product]
) -> None:
    """A service started on a forced build (nothing else to serve) rolls it back at its
    first scheduled run; in-place deletes of relevant products are kept, with the alarm."""
    index, _ = guarded_catalog
    worse = degraded(tmp_path / "worse.jsonl", sample_products, index)
    result = hashing_cli("index", str(worse), "--out", str(index), "--force")
    assert result.returncode == 0, result.stderr
    env = {"TINYSEEK_API_KEY": API_KEY, "TINYSEEK_QUALITY_INTERVAL": str(INTERVAL)}
    key = {"X-API-Key": API_KEY}
    stop, failures, reads = threading.Event(), [], [0]  # type: ignore[var-annotated]
    with serve(index, tmp_path / "serve.log", env) as server:
        thread = threading.Thread(target=reader, args=(server.base, stop, failures, reads))
        thread.start()
        client = httpx.Client(base_url=server.base, timeout=30)
        try:

            def rolled_back() -> bool:
                body = client.get("/quality").json()
                verdicts = [(h["generation"], h["verdict"]) for h in body["history"]]
                return body["served"]["generation"] == "gen-000001" and (
                    ("gen-000001", "rollback") in verdicts
                )

            wait_for(rolled_back)
            (action,) = [a for a in client.get("/quality").json()["actions"]]
            assert action["kind"] == "rollback" and action["served"] is True

            # the shop deletes relevant products itself: kept, and the alarm goes up
            labels = load_labels(index)
            assert labels is not None
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
    assert "the served build gen-000002 scores below the last good build" in log
    assert "WARNING" in log and "fell after in-place writes" in log and "lost" in log
    kinds = [e["kind"] for e in read_history(index)]
    assert "rollback" in kinds and "alarm" in kinds
    assert failures == []
    assert reads[0] > 0


def test_a_held_build_that_holds_up_is_let_through(
    guarded_catalog: tuple[Path, Path], tmp_path: Path
) -> None:
    """A suspect build is held until checked; one that scores within the tolerance of the
    last good build then serves. Its first configuration checked is the likeliest to fail."""
    from tinyseek.api.quality import QualityMonitor
    from tinyseek.indexer.generations import write_manifest
    from tinyseek.search.engine import Engine
    from tinyseek.search.layout import read_manifest

    index, catalog = guarded_catalog
    engine = Engine.open(index, encoder=HashingEncoder())
    monitor = QualityMonitor(index, lambda: engine, interval=60.0)
    engine.admit = monitor.admit
    build_catalog(catalog, index, HashingEncoder())  # as good as gen-000001: passes
    gen = current_generation(index)
    assert gen.name == "gen-000002" and engine.reload_if_changed()  # a good build: at once
    build_catalog(catalog, index, HashingEncoder())
    gen = current_generation(index)
    manifest = read_manifest(gen)
    manifest["quality"]["verdict"] = "forced"  # as if forced, yet no worse
    write_manifest(gen, manifest)
    assert not engine.reload_if_changed() and engine.generation.name == "gen-000002"
    assert monitor.state()["checking"] == "gen-000003"
    report = monitor.check_held()
    assert report is not None and report.verdict == "updated" and len(report.configs) == 3
    assert engine.generation.name == "gen-000003" and monitor.state()["checking"] is None
    assert monitor.rollbacks == 0 and monitor.evaluations == 1


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
