"""Fault injection: a writer killed (SIGKILL) at each step of its commit.

Each case runs a real writer process (`tinyseek update`, an API write to `tinyseek serve`,
`tinyseek index`, `tinyseek compact`) with TINYSEEK_FAILPOINT naming the step it dies at
(`tinyseek.failpoints`), then checks, before and after the next writer recovers:

- the index opens (every file verifies) and BM25, the dense index and the store agree on
  the live products (each is found by BM25 and has its own vector);
- every acknowledged write is there (after recovery for writes acknowledged as pending);
- the interrupted write is there entirely or not at all; after recovery it is there
  exactly when its journal record was complete (durable);
- no temporary file is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import REPO
from tests.serving import serve
from tests.test_indexer_support import HashingEncoder, make_products
from tinyseek.indexer import IndexWriter, build_catalog
from tinyseek.indexer.journal import Journal, live_records
from tinyseek.search.engine import Engine
from tinyseek.search.types import Product

API_KEY = "crash-key"
BASE = make_products(40)
# The write every case interrupts: three upserts (one replacing) and a delete, one record.
WRITE_UPSERTS = [
    Product(id="NEW1", title="Zephyr kettle zqone"),
    Product(id="NEW2", title="Quokka lamp zqtwo"),
    Product(id="P00003", title="Renamed drill zqthree"),
]
WRITE_DELETE = "P00005"
# Acknowledged before the interrupted operation: applied, and pending (journaled only).
APPLIED = Product(id="ACK1", title="Acknowledged mirror zqack")
PENDING = Product(id="ACK2", title="Pending sofa zqpending")

UPDATE_POINTS = [
    "journal.before_write",
    "journal.torn_write",
    "journal.before_fsync",
    "journal.appended",
    "apply.embedded",
    "write_atomic",
    "apply.dense_written",
    "apply.bm25_committed",
    "apply.store_written",
    "apply.store_committed",
    "apply.manifest_written",
]
API_POINTS = [
    "journal.torn_write",
    "journal.appended",
    "apply.dense_written",
    "apply.bm25_committed",
    "apply.store_written",
    "apply.store_committed",
    "apply.manifest_written",
]
INDEX_POINTS = [
    "write_atomic",
    "build.generation_written",
    "apply.bm25_committed",
    "apply.store_committed",
    "publish.writes_applied",
    "publish.published",
]
COMPACT_POINTS = [
    "compact.generation_written",
    "apply.store_written",
    "apply.store_committed",
    "publish.writes_applied",
    "publish.published",
]
# Killed before its record is complete in the journal: the write never happens. Killed any
# later (even before the fsync: a process crash loses nothing the kernel has), it happens.
NOT_WRITTEN = ("journal.before_write", "journal.torn_write")
CRASH_POINTS = (
    len(UPDATE_POINTS) + len(API_POINTS) + len(INDEX_POINTS) + len(COMPACT_POINTS)
)  # reported in the README


def cli(*args: str, failpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("TINYSEEK_FAILPOINT", None)
    if failpoint:
        env["TINYSEEK_FAILPOINT"] = failpoint
    return subprocess.run(
        [sys.executable, "-m", "tests.hashing_cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def base_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An index of BASE built from a catalog exported an hour ago, plus APPLIED written and
    applied, and PENDING journaled but not applied (as while a rebuild held the lock)."""
    root = tmp_path_factory.mktemp("crash-base")
    catalog = root / "catalog.jsonl"
    with catalog.open("w", encoding="utf-8") as fh:
        for p in BASE:
            fh.write(json.dumps(p.to_dict()) + "\n")
    old = time.time() - 3600
    os.utime(catalog, (old, old))
    index = root / "idx"
    build_catalog(catalog, index, HashingEncoder())
    with IndexWriter(index, HashingEncoder()) as writer:
        writer.upsert([APPLIED])
        writer.commit()
    Journal(index).append([(PENDING.id, PENDING)])
    return index, catalog


@pytest.fixture()
def index(base_index: tuple[Path, Path], tmp_path: Path) -> Path:
    out = tmp_path / "idx"
    shutil.copytree(base_index[0], out)
    return out


def expected_state(with_pending: bool, with_write: bool, delete: bool = True) -> dict[str, str]:
    state = {p.id: p.title for p in BASE}
    state[APPLIED.id] = APPLIED.title
    if with_pending:
        state[PENDING.id] = PENDING.title
    if with_write:
        state.update({p.id: p.title for p in WRITE_UPSERTS})
        if delete:
            state.pop(WRITE_DELETE)
    return state


def sound_state(index: Path, recovered: bool = True) -> dict[str, str]:
    """The live products (id -> title), after checking the three components agree (and,
    once a writer recovered, that no temporary file of the killed one is left)."""
    encoder = HashingEncoder()
    engine = Engine.open(index, encoder=encoder)  # verifies every file
    gen = engine.generation
    live = {p.id: (o, p) for o, p in gen.store.iter_live()}
    assert len(gen.dense) == len(gen.alive) and gen.bm25.num_docs() >= len(gen.alive)
    for pid, (ordinal, product) in live.items():
        stored = gen.dense.vectors([ordinal])[0]
        wanted = encoder.encode_queries([product.dense_text()])[0]
        assert np.allclose(stored, wanted, atol=1e-5), pid
        found = [o for o, _ in gen.bm25.search(product.title, 50, all_words=True)]
        assert ordinal in found, f"{pid} is not in BM25"
        assert gen.ordinal_ids[ordinal] == pid
    if recovered:
        assert not [p for p in index.rglob("*") if ".tmp-" in p.name and p.is_file()]
    return {pid: product.title for pid, (_, product) in live.items()}


def write_is_durable(index: Path, delete: bool = True) -> bool:
    ids = {p.id for p in WRITE_UPSERTS} | ({WRITE_DELETE} if delete else set())
    return any({pid for pid, _ in r.ops} == ids for r in live_records(Journal(index).records()))


def recover(index: Path) -> None:
    """What any next writer does: apply every journal record the served generation lacks."""
    with IndexWriter(index, HashingEncoder()) as writer:
        writer.commit()


def check_after_crash(index: Path, delete: bool = True) -> bool:
    """Returns whether the interrupted write was durable (and so is there after recovery)."""
    state = sound_state(index, recovered=False)
    allowed = [
        expected_state(with_pending, with_write, delete)
        for with_pending in (False, True)
        for with_write in (False, True)
    ]
    assert state in allowed, "the interrupted write is half there"
    durable = write_is_durable(index, delete)
    recover(index)
    assert sound_state(index) == expected_state(True, durable, delete)
    return durable


def delta_files(tmp_path: Path) -> Path:
    delta = tmp_path / "delta.jsonl"
    with delta.open("w", encoding="utf-8") as fh:
        for p in WRITE_UPSERTS:
            fh.write(json.dumps(p.to_dict()) + "\n")
    return delta


@pytest.mark.parametrize("point", UPDATE_POINTS)
def test_update_killed(index: Path, tmp_path: Path, point: str) -> None:
    args = ["update", str(index), "--upsert", str(delta_files(tmp_path))]
    result = cli(*args, "--delete-id", WRITE_DELETE, failpoint=point)
    assert result.returncode == -signal.SIGKILL, result.stderr
    durable = check_after_crash(index)
    assert durable == (point not in NOT_WRITTEN)


def test_update_completes_without_a_fail_point(index: Path, tmp_path: Path) -> None:
    args = ["update", str(index), "--upsert", str(delta_files(tmp_path))]
    result = cli(*args, "--delete-id", WRITE_DELETE)
    assert result.returncode == 0, result.stderr
    assert sound_state(index) == expected_state(with_pending=True, with_write=True)


@pytest.mark.parametrize("point", INDEX_POINTS)
def test_index_killed(index: Path, base_index: tuple[Path, Path], point: str) -> None:
    _, catalog = base_index
    # the interrupted write is acknowledged (journaled) before the rebuild
    with IndexWriter(index, HashingEncoder()) as writer:
        writer.upsert(WRITE_UPSERTS)
        writer.delete([WRITE_DELETE])
        writer.commit()
    args = ["index", str(catalog), "--out", str(index), "--no-progress"]
    result = cli(*args, failpoint=point)
    assert result.returncode == -signal.SIGKILL, result.stderr
    state = sound_state(index, recovered=False)
    assert state in (
        expected_state(with_pending=True, with_write=True),
        expected_state(with_pending=False, with_write=True),  # gen 1 before its applier ran
    )
    recover(index)  # (a killed build's checkpoint is the next build's to clean)
    assert sound_state(index, recovered=False) == expected_state(True, True)
    result = cli(*args)  # and the next rebuild goes through
    assert result.returncode == 0, result.stderr
    assert sound_state(index) == expected_state(with_pending=True, with_write=True)


@pytest.mark.parametrize("point", COMPACT_POINTS)
def test_compact_killed(index: Path, point: str) -> None:
    # acknowledged as pending (a rebuild held the lock): compaction must carry it over
    ops = [(p.id, p) for p in WRITE_UPSERTS] + [(WRITE_DELETE, None)]
    Journal(index).append(ops)
    result = cli("compact", str(index), failpoint=point)
    assert result.returncode == -signal.SIGKILL, result.stderr
    state = sound_state(index, recovered=False)
    assert state in (  # the compacted generation is published with every write, or not yet
        expected_state(with_pending=True, with_write=True),
        expected_state(with_pending=False, with_write=False),
    )
    recover(index)
    assert sound_state(index) == expected_state(with_pending=True, with_write=True)
    assert cli("compact", str(index)).returncode == 0
    assert sound_state(index) == expected_state(with_pending=True, with_write=True)


@pytest.mark.parametrize("point", API_POINTS)
def test_api_write_killed(index: Path, tmp_path: Path, point: str) -> None:
    recover(index)  # PENDING applied, so the server's first apply is the interrupted write
    env = {"TINYSEEK_API_KEY": API_KEY, "TINYSEEK_FAILPOINT": point}
    with serve(index, tmp_path / "serve.log", env) as server:
        body = {"products": [p.to_dict() for p in WRITE_UPSERTS]}
        with pytest.raises(httpx.TransportError):  # the server dies: no acknowledgement
            httpx.post(
                f"{server.base}/documents", json=body, headers={"X-API-Key": API_KEY}, timeout=30
            )
        assert server.proc.wait(timeout=10) == -signal.SIGKILL
    durable = check_after_crash(index, delete=False)
    assert durable == (point not in NOT_WRITTEN)
