"""No acknowledged write is lost: rebuilds, compactions and rollbacks replay the journal;
a damaged generation is refused by name; a full disk leaves nothing half-written."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_indexer_support import HashingEncoder, make_products
from tinyseek.indexer import IndexWriter, build_catalog, build_index, compact, rollback
from tinyseek.indexer import journal as journal_module
from tinyseek.indexer.journal import Journal, WouldDropWritesError
from tinyseek.search.engine import Engine
from tinyseek.search.layout import CorruptGenerationError, current_generation
from tinyseek.search.types import Product


def write_catalog(path: Path, products: list[Product]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for p in products:
            fh.write(json.dumps(p.to_dict()) + "\n")
    return path


def live_ids(index: Path) -> set[str]:
    engine = Engine.open(index, encoder=HashingEncoder())
    gen = engine.generation
    return {str(pid) for pid in gen.ordinal_ids[gen.alive]}


def titles(index: Path) -> dict[str, str]:
    engine = Engine.open(index, encoder=HashingEncoder())
    return {p.id: p.title for _, p in engine.generation.store.iter_live()}


@pytest.fixture()
def catalog(tmp_path: Path) -> Path:
    path = write_catalog(tmp_path / "catalog.jsonl", make_products(50))
    old = time.time() - 3600  # exported an hour ago
    os.utime(path, (old, old))
    return path


def test_rebuild_replays_writes_made_after_the_catalog_export(
    tmp_path: Path, catalog: Path
) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    with IndexWriter(out, HashingEncoder()) as writer:
        writer.upsert([Product(id="NEW", title="Brand new kettle")])
        writer.upsert([Product(id="P00003", title="Renamed lamp")])
        writer.delete(["P00004"])
        writer.commit()
    stats = build_catalog(catalog, out, HashingEncoder())  # the same (older) export
    assert stats.generation.name == "gen-000002"
    ids = live_ids(out)
    assert "NEW" in ids and "P00004" not in ids and len(ids) == 50
    assert titles(out)["P00003"] == "Renamed lamp"
    # an export newer than the writes is taken to hold them: nothing is replayed
    fresh = write_catalog(tmp_path / "fresh.jsonl", make_products(50))
    build_catalog(fresh, out, HashingEncoder())
    assert "NEW" not in live_ids(out) and "P00004" in live_ids(out)


def test_writes_since_start_trusts_the_catalog(tmp_path: Path, catalog: Path) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    with IndexWriter(out, HashingEncoder()) as writer:
        writer.upsert([Product(id="NEW", title="Brand new kettle")])
        writer.commit()
    build_catalog(catalog, out, HashingEncoder(), writes_since="start")
    assert "NEW" not in live_ids(out)


def test_writes_acknowledged_during_a_rebuild_are_replayed(tmp_path: Path, catalog: Path) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    journal = Journal(out)
    started = threading.Event()

    class SlowEncoder(HashingEncoder):
        def _encode_batch(self, batch: list[str]) -> object:  # type: ignore[override]
            started.set()
            time.sleep(0.3)
            return super()._encode_batch(batch)

    def write_during_build() -> None:
        started.wait(10)
        # what the service does when the rebuild holds the lock: journal, answer "pending"
        journal.append([("DURING", Product(id="DURING", title="Made while rebuilding"))])
        journal.append([("P00001", None)])

    thread = threading.Thread(target=write_during_build)
    thread.start()
    build_catalog(catalog, out, SlowEncoder(), checkpoint_rows=10)
    thread.join()
    ids = live_ids(out)
    assert "DURING" in ids and "P00001" not in ids
    engine = Engine.open(out, encoder=HashingEncoder())
    assert engine.generation.journal_seq == journal.last_seq()
    for mode in ("bm25", "dense", "hybrid"):
        assert engine.search("Made while rebuilding", k=1, mode=mode)[0].doc_id == "DURING"


def test_a_rebuild_refuses_to_drop_writes_the_journal_no_longer_holds(
    tmp_path: Path, catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "SEGMENT_BYTES", 300)
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder(), keep=1)
    for i in range(6):
        with IndexWriter(out, HashingEncoder()) as writer:
            writer.upsert([Product(id=f"W{i}", title=f"Written through the API {i}")])
            writer.commit()
    compact(
        out, keep=1, encoder=HashingEncoder()
    )  # every generation on disk now holds them: the journal is trimmed
    assert Journal(out).trimmed()[0] > 0
    with pytest.raises(WouldDropWritesError, match="no longer in the journal"):
        build_catalog(catalog, out, HashingEncoder())
    assert {f"W{i}" for i in range(6)} <= live_ids(out)  # nothing was published
    build_catalog(catalog, out, HashingEncoder(), writes_since="start")  # the operator says so


def test_rollback_and_compaction_apply_every_acknowledged_write(
    tmp_path: Path, catalog: Path
) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    with IndexWriter(out, HashingEncoder()) as writer:
        writer.upsert([Product(id="A", title="Written on the first build")])
        writer.commit()
    build_index(make_products(50), out, HashingEncoder())  # a new build from products
    with IndexWriter(out, HashingEncoder()) as writer:
        writer.upsert([Product(id="B", title="Written on the second build")])
        writer.delete(["P00002"])
        writer.commit()
    assert "A" not in live_ids(out)  # products given to build_index are the truth
    rollback(out, encoder=HashingEncoder())  # back to the first build, with every write
    assert current_generation(out).name == "gen-000001"
    ids = live_ids(out)
    assert {"A", "B"} <= ids and "P00002" not in ids
    Journal(out).append([("C", Product(id="C", title="Pending while compacting"))])
    compact(out, encoder=HashingEncoder())
    assert {"A", "B", "C"} <= live_ids(out)


def test_a_missing_store_is_refused_not_recreated_empty(tmp_path: Path, catalog: Path) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    gen = current_generation(out)
    (gen / "docs.sqlite").unlink()
    with (
        pytest.raises(CorruptGenerationError, match=r"docs\.sqlite: missing"),
        IndexWriter(out, HashingEncoder()) as writer,
    ):
        writer.upsert([Product(id="X", title="One more")])
        writer.commit()
    assert not (gen / "docs.sqlite").exists()
    with pytest.raises(CorruptGenerationError, match=r"docs\.sqlite: missing"):
        Engine.open(out, encoder=HashingEncoder())


def test_a_damaged_new_revision_is_refused_and_the_last_good_one_serves(
    tmp_path: Path, catalog: Path
) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    engine = Engine.open(out, encoder=HashingEncoder())
    with IndexWriter(out, HashingEncoder()) as writer:
        writer.upsert([Product(id="NEW", title="Zanzibar teapot")])
        writer.commit()
    gen = current_generation(out)
    dense = gen / "dense.r000001.faiss"
    data = bytearray(dense.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = os.urandom(64)
    dense.write_bytes(bytes(data))
    with pytest.raises(CorruptGenerationError, match=r"dense\.r000001\.faiss: checksum mismatch"):
        engine.reload_if_changed()
    assert engine.generation.revision == 0  # still the last good state
    assert engine.search("oak chair", k=3, mode="dense")
    with pytest.raises(CorruptGenerationError):  # and stays refused
        engine.reload_if_changed()


def test_a_full_disk_leaves_no_temporary_files_and_changes_nothing(
    tmp_path: Path, catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    before = live_ids(out)
    monkeypatch.setenv("TINYSEEK_FAILPOINT", "write_atomic:enospc")
    with (
        pytest.raises(OSError, match="No space left"),
        IndexWriter(out, HashingEncoder()) as writer,
    ):
        writer.upsert([Product(id="X", title="Does not fit")])
        writer.commit()
    with pytest.raises(OSError, match="No space left"):
        build_catalog(catalog, out, HashingEncoder())
    monkeypatch.delenv("TINYSEEK_FAILPOINT")
    leftovers = [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert leftovers == []
    assert live_ids(out) == before
    with IndexWriter(out, HashingEncoder()) as writer:  # the failed write was cancelled
        stats = writer.commit()
    assert stats.records == 0 and "X" not in live_ids(out)


def test_an_index_from_before_the_journal_opens_and_upgrades(tmp_path: Path, catalog: Path) -> None:
    """A store in rollback-journal mode without the meta table or row checksums."""
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    gen = current_generation(out)
    with sqlite3.connect(gen / "docs.sqlite") as conn:
        conn.execute("DROP TABLE meta")
        conn.execute("ALTER TABLE docs DROP COLUMN crc")
    conn.close()
    with sqlite3.connect(gen / "docs.sqlite") as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    assert len(live_ids(out)) == 50
    with IndexWriter(out, HashingEncoder()) as writer:
        writer.upsert([Product(id="NEW", title="After the upgrade")])
        stats = writer.commit()
    assert stats.revision == 1 and "NEW" in live_ids(out)


def test_a_hot_rollback_journal_is_recovered_by_readers(tmp_path: Path, catalog: Path) -> None:
    """A writer of an older store killed mid-transaction left docs.sqlite-journal behind."""
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    db = current_generation(out) / "docs.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    script = (
        "import os, sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1])\n"
        "conn.execute('PRAGMA cache_size = 1')\n"
        "conn.execute('BEGIN')\n"
        "conn.execute(\"UPDATE docs SET data = replace(data, 'P', 'Q'), alive = 0\")\n"
        "os._exit(9)\n"  # dies with the rollback journal hot
    )
    subprocess.run([sys.executable, "-c", script, str(db)], check=False)
    assert (db.parent / "docs.sqlite-journal").exists()
    assert len(live_ids(out)) == 50  # rolled back by the reader, not an error


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    for name in ("TINYSEEK_FAILPOINT", "TINYSEEK_DEBUG"):
        if name not in (env or {}):
            full_env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "tests.hashing_cli", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_failures_exit_with_their_documented_code_and_one_line(
    tmp_path: Path, catalog: Path
) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    delta = write_catalog(tmp_path / "delta.jsonl", [Product(id="D", title="Delta")])
    update = ("update", str(out), "--upsert", str(delta))
    cases = [
        ({"TINYSEEK_FAILPOINT": "write_atomic:enospc"}, 6, "disk full"),
        ({"TINYSEEK_FAILPOINT": "apply.embedded:raise"}, 8, "RuntimeError: fail point"),
    ]
    for env, code, text in cases:
        result = run_cli(*update, env=env)
        assert result.returncode == code, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert text in line and line.startswith("tinyseek update: error: ")
    debug = run_cli("--debug", *update, env={"TINYSEEK_FAILPOINT": "apply.embedded:raise"})
    assert debug.returncode == 8 and "Traceback" in debug.stderr
    debug = run_cli(
        *update, env={"TINYSEEK_FAILPOINT": "write_atomic:enospc", "TINYSEEK_DEBUG": "1"}
    )
    assert debug.returncode == 6 and "Traceback" in debug.stderr
    assert "D" not in live_ids(out)  # every failed update was cancelled
    (current_generation(out) / "manifest.json").write_text('{"format_version": 2}')
    for args in (("search", str(out), "oak"), update, ("compact", str(out))):
        result = run_cli(*args)
        assert result.returncode == 5, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert "manifest.json" in line and "'encoder'" in line
    assert run_cli(*update, "--wait", "-1").returncode == 2


def test_a_reader_maps_private_verified_copies_and_drops_old_ones(
    tmp_path: Path, catalog: Path
) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    engine = Engine.open(out, encoder=HashingEncoder())
    root = engine.copies.root
    assert {p.name for p in root.iterdir()} == {"gen-000001"}
    hits = [h.doc_id for h in engine.search("oak chair", k=5, mode="bm25")]
    for segment in (current_generation(out) / "bm25").glob("*.idx"):
        with segment.open("r+b") as fh:  # truncated under the running reader: no SIGBUS
            fh.truncate(0)
    assert [h.doc_id for h in engine.search("oak chair", k=5, mode="bm25")] == hits
    build_catalog(catalog, out, HashingEncoder(), writes_since="start")
    assert engine.reload_if_changed() is True
    assert {p.name for p in root.iterdir()} == {"gen-000002"}
    del engine
    import gc

    gc.collect()
    assert not root.exists()
