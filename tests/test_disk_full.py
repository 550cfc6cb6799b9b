"""A full disk, for real: the index on a small tmpfs (mounting needs root; skipped without).

A write that does not fit fails with its own exit code (6) or a 503, leaves no temporary
file and no partial journal record behind, and the index keeps serving what it had.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.serving import serve
from tests.test_indexer_support import HashingEncoder, make_products
from tinyseek.indexer import IndexWriter, build_index
from tinyseek.indexer.journal import Journal
from tinyseek.search.engine import Engine
from tinyseek.search.types import Product

API_KEY = "full-key"


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Take the disk's free space but `leave` bytes."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 4096)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def index_on(disk: Path) -> Path:
    index = disk / "idx"
    build_index(make_products(300), index, HashingEncoder())
    with IndexWriter(index, HashingEncoder()) as writer:  # journal and versioned files exist
        writer.upsert([Product(id="ACK", title="Acknowledged before the disk filled")])
        writer.commit()
    return index


def live(index: Path) -> dict[str, str]:
    engine = Engine.open(index, encoder=HashingEncoder())
    return {p.id: p.title for _, p in engine.generation.store.iter_live()}


def leftovers(index: Path) -> list[Path]:
    return [p for p in index.rglob("*") if ".tmp-" in p.name]


def update(index: Path, delta: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("TINYSEEK_FAILPOINT", None)
    return subprocess.run(
        [sys.executable, "-m", "tests.hashing_cli", "update", str(index), "--upsert", str(delta)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def delta_file(tmp_path: Path, n: int) -> Path:
    delta = tmp_path / "delta.jsonl"
    with delta.open("w", encoding="utf-8") as fh:
        for p in make_products(n, prefix="D"):
            fh.write(json.dumps(p.to_dict()) + "\n")
    return delta


@pytest.mark.parametrize("leave", [0, 24 << 10], ids=["nothing fits", "only the journal fits"])
def test_update_on_a_full_disk(small_disk: Path, tmp_path: Path, leave: int) -> None:
    index = index_on(small_disk)
    before = live(index)
    segment = Journal(index).segments()[-1]
    size = segment.stat().st_size
    filler = fill(small_disk, leave)
    result = update(index, delta_file(tmp_path, 40))
    assert result.returncode == 6, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "disk full" in line and "Traceback" not in result.stderr
    assert leftovers(index) == []
    if leave == 0:
        assert segment.stat().st_size == size  # no partial record
    filler.unlink()
    assert live(index) == before  # nothing half-applied, and it still opens
    with IndexWriter(index, HashingEncoder()) as writer:  # space again: the next writer
        writer.commit()
    after = live(index)
    added = set(after) - set(before)
    assert added in (set(), {p.id for p in make_products(40, prefix="D")})  # all or nothing
    assert leftovers(index) == []


def test_api_write_on_a_full_disk(small_disk: Path, tmp_path: Path) -> None:
    index = index_on(small_disk)
    before = live(index)
    with serve(index, tmp_path / "serve.log", {"TINYSEEK_API_KEY": API_KEY}) as server:
        filler = fill(small_disk, 0)
        body = {"products": [p.to_dict() for p in make_products(20, prefix="F")]}
        response = httpx.post(
            f"{server.base}/documents", json=body, headers={"X-API-Key": API_KEY}, timeout=30
        )
        assert response.status_code == 503, response.text
        assert "disk full" in response.json()["detail"]
        search = httpx.get(f"{server.base}/search", params={"q": "oak chair"}, timeout=30)
        assert search.status_code == 200
        filler.unlink()
        response = httpx.post(
            f"{server.base}/documents", json=body, headers={"X-API-Key": API_KEY}, timeout=30
        )
        assert response.status_code == 200 and response.json()["pending"] is False
    assert leftovers(index) == []
    assert set(live(index)) == set(before) | {p.id for p in make_products(20, prefix="F")}
    shutil.rmtree(index)
