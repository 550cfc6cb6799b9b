"""Incremental upsert/delete: visible in every mode, consistent across store, BM25 and FAISS."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.test_indexer_support import HashingEncoder, make_products
from tinyseek.indexer import IndexWriter, WriterLockedError, build_index, compact
from tinyseek.indexer.generations import verify_generation
from tinyseek.search.engine import Engine
from tinyseek.search.layout import current_generation, read_manifest
from tinyseek.search.store import DocStore
from tinyseek.search.types import Product

MODES = ("bm25", "dense", "hybrid")


@pytest.fixture()
def index(tmp_path: Path) -> Path:
    out = tmp_path / "idx"
    build_index(make_products(200), out, HashingEncoder())
    return out


def ids(engine: Engine, query: str, mode: str, k: int = 10, **kw: object) -> list[str]:
    return [h.doc_id for h in engine.search(query, k=k, mode=mode, **kw)]  # type: ignore[arg-type]


def assert_consistent(engine: Engine, expected_ids: set[str]) -> None:
    """Store, FAISS and tantivy agree on which products exist."""
    gen = engine.generation
    live = {str(pid) for pid in gen.ordinal_ids[gen.alive]}
    assert live == expected_ids
    assert len(gen.dense) == len(gen.alive)  # every ordinal has a vector
    # and a BM25 document (append-only; a failed commit may leave extra, never alive ones)
    assert gen.bm25.num_docs() >= len(gen.alive)
    assert gen.manifest["doc_count"] == len(expected_ids)


def test_upsert_and_delete_visible_in_every_mode(index: Path) -> None:
    encoder = HashingEncoder()
    engine = Engine.open(index, encoder=encoder)
    old = engine.generation.store.get([5])[0]
    new = Product(id="NEW-1", title="Zanzibar flamingo teapot", brand="Quokka", price=5.0)
    replacement = Product(id=old.id, title="Xylophone mailbox with brass flag", price=99.0)
    with IndexWriter(index, encoder) as writer:
        writer.upsert([new, replacement])
        writer.delete(["P00007", "no-such-id"])
        stats = writer.commit()
    assert (stats.upserted, stats.replaced, stats.deleted, stats.missing) == (2, 1, 1, 1)
    assert stats.revision == 1 and stats.tombstones == 2 and stats.live == 200

    assert ids(engine, "Zanzibar flamingo teapot", "bm25") == []  # not reloaded yet
    assert engine.reload_if_changed() is True
    assert engine.reload_if_changed() is False
    for mode in MODES:
        assert ids(engine, "Zanzibar flamingo teapot", mode)[0] == "NEW-1"
        hits = engine.search("Xylophone mailbox brass flag", k=10, mode=mode)
        assert hits[0].doc_id == old.id and hits[0].product.title == replacement.title
        # the old version of the replaced product is gone, the deleted one too
        for hit in engine.search(old.title, k=50, mode=mode):
            assert hit.product.title != old.title
        assert "P00007" not in ids(engine, "model P7", mode, k=200)
        assert ids(engine, "teapot", mode, filters={"brand": "quokka"}) == ["NEW-1"]
        assert "NEW-1" not in ids(engine, "teapot", mode, filters={"price_min": 6})
    expected = {p.id for p in make_products(200)} - {"P00007"} | {"NEW-1"}
    assert_consistent(engine, expected)
    assert verify_generation(current_generation(index)) == []


def test_upsert_then_delete_in_one_commit_last_wins(index: Path) -> None:
    encoder = HashingEncoder()
    with IndexWriter(index, encoder) as writer:
        writer.upsert([Product(id="X", title="Ephemeral widget")])
        writer.delete(["X", "P00001"])
        writer.upsert([Product(id="P00001", title="Resurrected gizmo")])
        stats = writer.commit()
    assert (stats.upserted, stats.replaced, stats.deleted) == (1, 1, 0)
    engine = Engine.open(index, encoder=encoder)
    for mode in MODES:
        assert "X" not in ids(engine, "Ephemeral widget", mode)
        assert ids(engine, "Resurrected gizmo", mode)[0] == "P00001"


def test_reader_in_another_thread_sees_commit_after_reload(index: Path) -> None:
    encoder = HashingEncoder()
    engine = Engine.open(index, encoder=encoder)
    committed = threading.Event()
    seen: dict[str, list[str]] = {}

    def reader() -> None:
        committed.wait(10)
        seen["before"] = ids(engine, "Walrus ukulele", "hybrid")
        engine.reload_if_changed()
        seen["after"] = ids(engine, "Walrus ukulele", "hybrid")

    thread = threading.Thread(target=reader)
    thread.start()
    with IndexWriter(index, encoder) as writer:
        writer.upsert([Product(id="W", title="Walrus ukulele")])
        writer.commit()
    committed.set()
    thread.join()
    assert "W" not in seen["before"] and seen["after"][0] == "W"


class Crash(Exception):
    pass


def test_crash_mid_commit_is_invisible_and_recoverable(
    index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = HashingEncoder()
    engine = Engine.open(index, encoder=encoder)
    before = {m: ids(engine, "oak chair", m) for m in MODES}

    def crash(self: DocStore) -> None:
        raise Crash

    with IndexWriter(index, encoder) as writer:
        writer.upsert([Product(id="GHOST", title="Phantom gramophone")])
        writer.delete(["P00002"])
        with monkeypatch.context() as patch:
            patch.setattr(DocStore, "commit", crash)  # FAISS and BM25 written, store not
            with pytest.raises(Crash):
                writer.commit()
    assert engine.reload_if_changed() is False  # the manifest revision did not move
    fresh = Engine.open(index, encoder=encoder)  # a reader opening in the wreckage
    for e in (engine, fresh):
        for mode in MODES:
            assert "GHOST" not in ids(e, "Phantom gramophone", mode)
            assert "P00002" in ids(e, "model P2", mode, k=200)
            assert ids(e, "oak chair", mode) == before[mode]
    assert_consistent(fresh, {p.id for p in make_products(200)})

    with IndexWriter(index, encoder) as writer:  # the next commit goes through
        writer.upsert([Product(id="REAL", title="Phantom gramophone")])
        stats = writer.commit()
    assert stats.revision == 1
    engine.reload_if_changed()
    for mode in MODES:
        assert ids(engine, "Phantom gramophone", mode)[:1] == ["REAL"]
        assert "GHOST" not in ids(engine, "Phantom gramophone", mode)


def test_many_tombstones_still_fill_k(index: Path) -> None:
    encoder = HashingEncoder()
    for round_ in range(5):
        with IndexWriter(index, encoder) as writer:
            writer.upsert(
                Product(id=f"P{i:05d}", title=f"Chair revision {round_} number {i}")
                for i in range(0, 200, 10)
            )
            writer.commit()
    engine = Engine.open(index, encoder=encoder)
    assert engine.generation.manifest["tombstones"] == 100
    for mode in MODES:
        hits = engine.search("chair revision 4", k=20, mode=mode)
        assert len(hits) == 20 and len({h.doc_id for h in hits}) == 20
    bm25 = engine.search("revision", k=20, mode="bm25")
    assert {h.product.title.split()[2] for h in bm25} == {"4"}


def test_compaction_drops_tombstones_and_keeps_results(index: Path) -> None:
    encoder = HashingEncoder()
    with IndexWriter(index, encoder) as writer:
        writer.upsert(Product(id=f"P{i:05d}", title=f"Renamed lamp {i}") for i in range(50))
        writer.delete([f"P{i:05d}" for i in range(150, 160)])
        writer.commit()
    engine = Engine.open(index, encoder=encoder)
    before = {m: ids(engine, "renamed lamp 7", m) for m in ("dense",)}
    live = {str(x) for x in engine.generation.ordinal_ids[engine.generation.alive]}
    stats = compact(index)
    assert stats.products == 190
    assert engine.reload_if_changed() is True
    manifest = read_manifest(current_generation(index))
    assert manifest["tombstones"] == 0 and manifest["compacted_from"]["generation"] == "gen-000001"
    assert_consistent(engine, live)
    assert ids(engine, "renamed lamp 7", "dense") == before["dense"]
    for mode in MODES:
        assert ids(engine, "Renamed lamp 7", mode)[0] == "P00007"


def test_second_index_writer_is_refused(index: Path) -> None:
    with IndexWriter(index, HashingEncoder()), pytest.raises(WriterLockedError):
        IndexWriter(index, HashingEncoder())
    IndexWriter(index, HashingEncoder()).close()


def test_encoder_mismatch_is_refused(index: Path) -> None:
    with pytest.raises(ValueError, match="does not match"):
        IndexWriter(index, HashingEncoder(dim=32, name="other"))
    IndexWriter(index, HashingEncoder()).close()  # the lock was released


def test_upsert_with_the_teacher(tmp_path: Path, teacher: object) -> None:
    """The real encoder: a paraphrase finds an upserted product in dense mode."""
    out = tmp_path / "idx"
    build_index(make_products(60), out, teacher)  # type: ignore[arg-type]
    engine = Engine.open(out, encoder=teacher)  # type: ignore[arg-type]
    with IndexWriter(out, teacher) as writer:  # type: ignore[arg-type]
        writer.upsert([Product(id="BLOWER", title="Cordless leaf blower, 40V battery")])
        writer.delete(["P00000"])
        writer.commit()
    engine.reload_if_changed()
    assert ids(engine, "battery powered yard blower", "dense")[0] == "BLOWER"
    assert ids(engine, "leaf blower", "hybrid")[0] == "BLOWER"
    assert "P00000" not in ids(engine, make_products(1)[0].title, "hybrid")
