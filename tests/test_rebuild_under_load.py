"""Rebuild under write load: API upserts and deletes keep coming while `tinyseek index --wait`
rebuilds the served directory and a reader queries it. Nothing acknowledged is lost, no read
fails, and the rebuild publishes within its wait.

The default run is small; TINYSEEK_LOAD_WRITES=1000 runs the full bar (and prints numbers).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import REPO
from tests.serving import Server, serve
from tests.test_indexer_support import HashingEncoder, make_products
from tinyseek.indexer import build_catalog
from tinyseek.search.engine import Engine

API_KEY = "load-key"
WRITES = int(os.environ.get("TINYSEEK_LOAD_WRITES", "120"))
WRITERS = 2
WAIT = 60.0


@dataclass
class Tally:
    acknowledged: int = 0
    pending: int = 0
    refused: list[str] = field(default_factory=list)
    reads: int = 0
    failed_reads: list[str] = field(default_factory=list)
    rebuilds: list[tuple[int, float]] = field(default_factory=list)
    """(exit code, seconds) of each rebuild."""


def writer(server: Server, number: int, expected: dict[str, str | None], tally: Tally) -> None:
    """Upserts and deletes on ids of its own; `expected` ends as the acknowledged state."""
    rng = random.Random(number)
    key = {"X-API-Key": API_KEY}
    mine = [p.id for p in make_products(300)][number::WRITERS]
    with httpx.Client(base_url=server.base, timeout=60) as client:
        for i in range(WRITES // WRITERS):
            live = [pid for pid in mine if expected.get(pid, "") is not None]
            if rng.random() < 0.3 and live:
                pid = rng.choice(live)
                response = client.delete(f"/documents/{pid}", headers=key)
                value: str | None = None
            else:
                pid = rng.choice([*mine, f"N{number}-{i}"])
                value = f"Written {number} {i} zq{number}x{i}"
                body = {"products": [{"id": pid, "title": value, "price": float(i % 50)}]}
                response = client.post("/documents", json=body, headers=key)
            if response.status_code == 200:
                expected[pid] = value
                if pid not in mine:
                    mine.append(pid)
                tally.acknowledged += 1
                tally.pending += bool(response.json()["pending"])
            else:
                tally.refused.append(response.text[:300])
                assert response.status_code == 503, response.text


def reader(server: Server, stop: threading.Event, tally: Tally) -> None:
    rng = random.Random(7)
    with httpx.Client(base_url=server.base, timeout=60) as client:
        while not stop.is_set():
            mode = rng.choice(["hybrid", "bm25", "dense"])
            try:
                response = client.get("/search", params={"q": "oak chair written", "mode": mode})
                ok = response.status_code == 200
                detail = response.text[:200]
            except httpx.TransportError as exc:
                ok, detail = False, repr(exc)
            tally.reads += 1
            if not ok:
                tally.failed_reads.append(detail)
            time.sleep(0.005)  # a steady reader, not a CPU hog on two cores


def rebuild(catalog: Path, index: Path, tally: Tally) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HASHING_ENCODER_DELAY": "0.5"}
    env.pop("TINYSEEK_FAILPOINT", None)
    command = [sys.executable, "-m", "tests.hashing_cli", "index", str(catalog)]
    started = time.monotonic()
    result = subprocess.run(
        [*command, "--out", str(index), "--wait", str(WAIT), "--no-progress"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    tally.rebuilds.append((result.returncode, time.monotonic() - started))
    assert result.returncode == 0, result.stderr


def test_rebuild_under_write_load(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.jsonl"
    with catalog.open("w", encoding="utf-8") as fh:
        for p in make_products(300):
            fh.write(json.dumps(p.to_dict()) + "\n")
    old = time.time() - 3600
    os.utime(catalog, (old, old))
    index = tmp_path / "idx"
    build_catalog(catalog, index, HashingEncoder())
    expected: dict[str, dict[str, str | None]] = {str(n): {} for n in range(WRITERS)}
    tally = Tally()
    env = {"TINYSEEK_API_KEY": API_KEY, "TINYSEEK_WRITE_LOCK_WAIT": "0.2"}
    with serve(index, tmp_path / "serve.log", env) as server:
        stop = threading.Event()
        read = threading.Thread(target=reader, args=(server, stop, tally))
        writers = [
            threading.Thread(target=writer, args=(server, n, expected[str(n)], tally))
            for n in range(WRITERS)
        ]
        read.start()
        for thread in writers:
            thread.start()
        rebuilds = 0
        while any(t.is_alive() for t in writers):  # rebuild again and again while writing
            rebuild(catalog, index, tally)
            rebuilds += 1
        for thread in writers:
            thread.join()
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.base}/readyz").json().get("pending_writes") != 0:
            assert time.monotonic() < deadline, "pending writes were never applied"
            time.sleep(0.2)
        stop.set()
        read.join()

        lost = []
        with httpx.Client(base_url=server.base, timeout=30) as client:
            for state in expected.values():
                for pid, title in state.items():
                    response = client.get(f"/documents/{pid}")
                    if title is None and response.status_code != 404:
                        lost.append(f"{pid}: deleted, but {response.status_code}")
                    elif title is not None and (
                        response.status_code != 200 or response.json()["title"] != title
                    ):
                        lost.append(f"{pid}: {title!r}, but {response.text[:100]}")
    engine = Engine.open(index, encoder=HashingEncoder())  # and on disk, verified
    stored = {p.id: p.title for _, p in engine.generation.store.iter_live()}
    for state in expected.values():
        for pid, title in state.items():
            if stored.get(pid) != title:
                lost.append(f"{pid} on disk: {stored.get(pid)!r} instead of {title!r}")
    print(
        f"\nrebuild under load: {tally.acknowledged} writes acknowledged "
        f"({tally.pending} while a rebuild held the index), {len(tally.refused)} refused, "
        f"{len(lost)} lost; {tally.reads} reads, {len(tally.failed_reads)} failed; "
        f"{len(tally.rebuilds)} rebuilds, exit codes {sorted({c for c, _ in tally.rebuilds})}, "
        f"longest {max(s for _, s in tally.rebuilds):.1f} s (wait {WAIT:g} s)"
    )
    assert lost == []
    assert tally.failed_reads == []
    assert tally.refused == []
    assert tally.acknowledged >= WRITES * 0.95 and tally.pending > 0
    assert rebuilds >= 1 and all(seconds < WAIT for _, seconds in tally.rebuilds)
