"""Catalog builds: checkpoints and resume after crashes, atomic publish, GC, rollback, lock, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import tinyseek.indexer.build as build_module
from tests.test_indexer_support import HashingEncoder, make_products, write_jsonl
from tinyseek.indexer import (
    CheckpointMismatchError,
    NoProductsError,
    WriterLockedError,
    build_catalog,
    build_index,
    collect_garbage,
    rollback,
)
from tinyseek.indexer.checkpoint import Checkpoint
from tinyseek.indexer.embedding import BatchPolicy, approx_tokens, embed_texts, plan_batches
from tinyseek.indexer.generations import verify_generation
from tinyseek.indexer.lock import WriterLock
from tinyseek.search.engine import Engine
from tinyseek.search.layout import CURRENT, current_generation, list_generations, read_manifest

REPO = Path(__file__).resolve().parent.parent
QUERIES = ("oak chair", "cordless drill", "brass lamp", "blue rug", "vintage mirror", "model P17")


@pytest.fixture()
def catalog(tmp_path: Path) -> Path:
    path = write_jsonl(tmp_path / "catalog.jsonl", make_products(230))
    with path.open("a") as fh:  # two bad rows in the middle of the file
        fh.write('{"title": "no id"}\n{"_id": "P00003", "title": "duplicate"}\n')
    with path.open("a") as fh:
        for p in make_products(40, prefix="Q"):
            fh.write(json.dumps({"_id": p.id, "title": p.title, "price": p.price}) + "\n")
    return path


def snapshot(index_dir: Path, encoder: HashingEncoder) -> list[list[tuple[str, float]]]:
    engine = Engine.open(index_dir, encoder=encoder)
    return [
        [(h.doc_id, round(h.score, 6)) for h in engine.search(q, k=10, mode=mode)]
        for q in QUERIES
        for mode in ("bm25", "dense", "hybrid")
    ]


@pytest.fixture()
def clean(tmp_path: Path, catalog: Path) -> list[list[tuple[str, float]]]:
    out = tmp_path / "clean"
    stats = build_catalog(catalog, out, HashingEncoder(), checkpoint_rows=50)
    assert stats.products == 270 and stats.rejected == 2
    return snapshot(out, HashingEncoder())


def test_build_writes_a_sound_generation(tmp_path: Path, catalog: Path) -> None:
    rejects = tmp_path / "rejects.jsonl"
    stats = build_catalog(catalog, tmp_path / "idx", HashingEncoder(), rejects_path=rejects)
    assert stats.reject_reasons == {"missing id": 1, "duplicate id": 1}
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["line"] for r in lines] == [231, 232]
    gen = current_generation(tmp_path / "idx")
    manifest = read_manifest(gen)
    assert manifest["doc_count"] == 270 and manifest["encoder"]["name"] == "test-hashing-64"
    assert "dense.faiss" in manifest["checksums"]
    assert "docs.sqlite" not in manifest["checksums"]  # changed in place; SQLite checks it
    assert any(k.startswith("bm25/") for k in manifest["checksums"])
    assert verify_generation(gen) == []
    assert not (tmp_path / "idx" / ".checkpoint").exists()
    (gen / "dense.faiss").write_bytes(b"corrupt")
    (problem,) = verify_generation(gen)
    assert problem.startswith(f"{gen / 'dense.faiss'}: checksum mismatch")


class Crash(Exception):
    """Stands in for the process dying at a chosen point."""


def test_resume_after_crash_between_batches(
    tmp_path: Path, catalog: Path, clean: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "idx"
    real = Checkpoint.write_shard
    calls = {"n": 0}

    def crashing(self: Checkpoint, number: int, vectors: np.ndarray) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash
        real(self, number, vectors)

    monkeypatch.setattr(Checkpoint, "write_shard", crashing)
    with pytest.raises(Crash):
        build_catalog(catalog, out, HashingEncoder(), checkpoint_rows=50)
    monkeypatch.setattr(Checkpoint, "write_shard", real)
    assert not (out / CURRENT).exists()
    encoder = HashingEncoder()
    stats = build_catalog(catalog, out, encoder, checkpoint_rows=50, resume=True)
    assert stats.resumed_from == 100 and stats.embedded == 170
    assert sum(encoder.batches) == 170  # finished batches were not embedded again
    assert stats.products == 270
    assert snapshot(out, HashingEncoder()) == clean


@pytest.mark.parametrize("point", ["assemble", "rename", "publish"])
def test_resume_after_crash_while_publishing(
    tmp_path: Path, catalog: Path, clean: list, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())  # a served generation to keep serving
    served = current_generation(out).name
    before = snapshot(out, HashingEncoder())
    real_replace = os.replace

    def crash(*args: object, **kwargs: object) -> None:
        raise Crash

    def crash_on_generation_rename(src: Path, dst: Path) -> None:
        if Path(src).name.startswith(".tmp-gen-"):
            raise Crash
        real_replace(src, dst)

    with monkeypatch.context() as patch:
        if point == "assemble":  # store, BM25 and vectors written, not committed
            patch.setattr(build_module.GenerationWriter, "finish", crash)
        elif point == "rename":  # generation complete on disk, not renamed into place
            patch.setattr(build_module.os, "replace", crash_on_generation_rename)
        else:  # renamed into place, CURRENT not switched yet
            patch.setattr(build_module, "publish_with_writes", crash)
        with pytest.raises(Crash):
            build_catalog(catalog, out, HashingEncoder(), checkpoint_rows=50)
    # Readers still get the old generation, whole.
    assert current_generation(out).name == served
    assert snapshot(out, HashingEncoder()) == before
    encoder = HashingEncoder()
    stats = build_catalog(catalog, out, encoder, checkpoint_rows=50, resume=True)
    assert encoder.batches == []  # everything was embedded before the crash
    assert stats.generation.name != served and current_generation(out) == stats.generation
    assert snapshot(out, HashingEncoder()) == clean
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_resume_refuses_another_catalog_or_encoder(
    tmp_path: Path, catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "idx"

    def crash(self: Checkpoint, number: int, vectors: np.ndarray) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(Checkpoint, "write_shard", crash)
        with pytest.raises(Crash):
            build_catalog(catalog, out, HashingEncoder(), checkpoint_rows=50)
    with pytest.raises(CheckpointMismatchError, match="encoder differs"):
        build_catalog(catalog, out, HashingEncoder(name="other"), resume=True)
    with catalog.open("a") as fh:
        fh.write('{"_id": "late", "title": "Appended row"}\n')
    with pytest.raises(CheckpointMismatchError, match="catalog changed"):
        build_catalog(catalog, out, HashingEncoder(), resume=True)
    # Without --resume the stale checkpoint is discarded and the build starts over.
    assert build_catalog(catalog, out, HashingEncoder()).products == 271


def test_resume_after_kill_9(tmp_path: Path, catalog: Path, clean: list) -> None:
    out = tmp_path / "idx"
    script = (
        "import sys; from tinyseek.indexer import build_catalog; "
        "from tinyseek.indexer.embedding import BatchPolicy; "
        "from tests.test_indexer_support import HashingEncoder; "
        "build_catalog(sys.argv[1], sys.argv[2], HashingEncoder(delay=0.05), "
        "checkpoint_rows=20, policy=BatchPolicy(5))"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(catalog), str(out)], cwd=REPO)
    progress = out / ".checkpoint" / "progress.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if progress.is_file() and len(json.loads(progress.read_text())["shards"]) >= 4:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    done = sum(json.loads(progress.read_text())["shards"])
    assert 0 < done < 270
    with WriterLock(out):  # the dead writer's lock went with it
        pass
    encoder = HashingEncoder()
    stats = build_catalog(catalog, out, encoder, checkpoint_rows=20, resume=True)
    assert stats.resumed_from == done and sum(encoder.batches) == 270 - done
    assert snapshot(out, HashingEncoder()) == clean


def test_publish_never_exposes_a_half_written_generation(tmp_path: Path, catalog: Path) -> None:
    out = tmp_path / "idx"
    build_catalog(catalog, out, HashingEncoder())
    stop = threading.Event()
    seen: set[str] = set()
    errors: list[str] = []

    def reader() -> None:
        engine = Engine.open(out, encoder=HashingEncoder())
        while not stop.is_set():
            try:
                gen = current_generation(out)
                if read_manifest(gen)["doc_count"] != 270:
                    errors.append(f"{gen.name} incomplete")
                engine.reload_if_changed()
                seen.add(engine.generation.name)
                if len(engine.search("oak chair", k=5)) != 5:
                    errors.append("short result")
            except Exception as exc:
                errors.append(repr(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(3):
            build_catalog(catalog, out, HashingEncoder(), checkpoint_rows=60, keep=2)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert current_generation(out).name == "gen-000004" and "gen-000004" in seen


def test_gc_keeps_n_and_rollback(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    encoder = HashingEncoder()
    for i in range(5):
        build_index(make_products(20 + i), out, encoder, keep=None)
    assert [g.name for g in list_generations(out)][-1] == "gen-000005"
    assert len(list_generations(out)) == 5
    assert rollback(out) == ("gen-000005", "gen-000004")
    assert rollback(out) == ("gen-000004", "gen-000003")
    assert len(Engine.open(out, encoder=encoder)) == 22
    removed = collect_garbage(out, keep=1)
    # The newest is kept, and so is the served one although it is older.
    assert sorted(p.name for p in removed) == ["gen-000001", "gen-000002", "gen-000004"]
    assert [g.name for g in list_generations(out)] == ["gen-000003", "gen-000005"]
    assert rollback(out, to="gen-000005") == ("gen-000003", "gen-000005")
    assert len(Engine.open(out, encoder=encoder)) == 24
    build_index(make_products(30), out, encoder, keep=2)
    assert [g.name for g in list_generations(out)] == ["gen-000005", "gen-000006"]
    rollback(out)
    rollback_again = pytest.raises(ValueError, match="no generation older")
    with rollback_again:
        rollback(out)


def test_second_writer_is_refused(tmp_path: Path, catalog: Path) -> None:
    out = tmp_path / "idx"
    with WriterLock(out):
        with pytest.raises(WriterLockedError, match="another writer"):
            build_catalog(catalog, out, HashingEncoder())
        with pytest.raises(WriterLockedError):
            rollback(out)
    assert build_catalog(catalog, out, HashingEncoder()).products == 270


def test_writer_lock_names_its_holder_and_can_wait(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    holder = WriterLock(out)
    holder.acquire()
    started = time.monotonic()
    with pytest.raises(WriterLockedError, match=rf"pid {os.getpid()}, since .*after waiting"):
        WriterLock(out, timeout=0.3).acquire()
    assert time.monotonic() - started >= 0.3
    threading.Timer(0.2, holder.release).start()
    with WriterLock(out, timeout=10) as waited:  # the holder lets go while we wait
        assert waited.held


def test_no_valid_products(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"title": "no id"}\n{"_id": "1"}\n')
    with pytest.raises(NoProductsError):
        build_catalog(path, tmp_path / "idx", HashingEncoder())
    assert not (tmp_path / "idx" / CURRENT).exists()
    assert list_generations(tmp_path / "idx") == []


def test_token_budget_batches() -> None:
    lengths = [10] * 50 + [200] * 3
    batches = plan_batches(lengths, BatchPolicy(batch_size=16, token_budget=400))
    assert sorted(i for b in batches for i in b) == list(range(53))
    for batch in batches:
        widest = max(lengths[i] for i in batch)
        assert len(batch) <= 16 and (len(batch) * widest <= 400 or len(batch) == 1)
    assert approx_tokens("one two three") >= 5
    encoder = HashingEncoder()
    texts = ["word " * n for n in (1, 300, 2, 50, 3)]
    vectors = embed_texts(encoder, texts, BatchPolicy(batch_size=64, token_budget=256))
    np.testing.assert_allclose(vectors, encoder.encode_queries(texts))
    assert encoder.batches == [3, 1, 1]  # short texts together; long ones alone


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """`tinyseek ARGS` in this process, with the hashing encoder standing in for any --encoder."""
    import tinyseek.models.encoder
    import tinyseek.search.engine
    from tinyseek.cli import main

    for module in (tinyseek.models.encoder, tinyseek.search.engine):
        monkeypatch.setattr(module, "load_encoder", lambda *a, **k: HashingEncoder())
    monkeypatch.setattr(tinyseek.models.encoder, "check_encoder_spec", lambda spec: None)
    try:
        code = main(list(args))
    except SystemExit as exc:  # --help and usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exit_codes(
    tmp_path: Path,
    catalog: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = str(tmp_path / "idx")
    code, _, err = run_cli(monkeypatch, capsys, "index", str(tmp_path / "nope.jsonl"), "--out", out)
    assert code == 2 and "catalog not found" in err
    code, _, err = run_cli(monkeypatch, capsys, "index", str(catalog), "--out", out, "--map", "x=y")
    assert code == 2 and "unknown product field" in err
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"title": "no id"}\n')
    assert run_cli(monkeypatch, capsys, "index", str(empty), "--out", out)[0] == 3
    assert run_cli(monkeypatch, capsys, "rollback", out)[0] == 2  # nothing built yet
    with WriterLock(out):
        code, _, err = run_cli(
            monkeypatch, capsys, "index", str(catalog), "--out", out, "--wait", "0"
        )
        assert code == 4 and "another writer" in err
        assert run_cli(monkeypatch, capsys, "rollback", out, "--wait", "0.2")[0] == 4
    rejects = tmp_path / "rejects.jsonl"
    code, stdout, _ = run_cli(
        monkeypatch, capsys, "index", str(catalog), "--out", out, "--rejects", str(rejects),
        "--no-progress",
    )  # fmt: skip
    assert code == 1 and "2 rows rejected" in stdout and len(rejects.read_text().splitlines()) == 2
    clean = tmp_path / "clean.jsonl"
    write_jsonl(clean, make_products(5, prefix="C"))
    assert run_cli(monkeypatch, capsys, "index", str(clean), "--out", out, "--no-progress")[0] == 0
    delta = write_jsonl(tmp_path / "delta.jsonl", make_products(2, prefix="D"))
    ids = tmp_path / "ids.txt"
    ids.write_text("C00000\nC00001\n")
    code, stdout, _ = run_cli(
        monkeypatch, capsys, "update", out, "--upsert", str(delta), "--delete", str(ids)
    )
    assert code == 0 and "2 upserted" in stdout and "2 deleted" in stdout
    assert run_cli(monkeypatch, capsys, "compact", out)[0] == 0
    code, stdout, _ = run_cli(monkeypatch, capsys, "generations", out)
    assert code == 0 and stdout.splitlines()[-1].startswith("* gen-000003")
    assert run_cli(monkeypatch, capsys, "rollback", out)[0] == 0
    code, help_text, _ = run_cli(monkeypatch, capsys, "index", "--help")
    help_text = " ".join(help_text.split())
    assert code == 0 and "exit codes" in help_text and "4 another writer" in help_text
    code, stdout, _ = run_cli(monkeypatch, capsys, "update", out, "--delete-id", "NOPE-1")
    assert code == 0 and "0 deleted" in stdout and "not found (nothing deleted): 'NOPE-1'" in stdout
    code, stdout, _ = run_cli(monkeypatch, capsys, "gc", out, "--keep", "3")
    assert code == 0 and stdout.strip() == "nothing to remove: 3 generations, --keep 3"
    code, stdout, _ = run_cli(monkeypatch, capsys, "gc", out, "--keep", "1")
    assert code == 0 and stdout.strip() == "removed 1: gen-000001; 2 kept"  # the served one too


def test_the_catalog_currency_reaches_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        'id,title,price,colour\nA,Oak table,"1.499,00 €",brown\nB,Pine shelf,£5,white\n'
        "C,Teak bench,99,\n",
        encoding="utf-8",
    )
    out = tmp_path / "idx"
    stats = build_catalog(catalog, out, HashingEncoder())
    assert (stats.products, stats.rejected) == (2, 1)
    assert read_manifest(current_generation(out))["currency"] == "EUR"
    engine = Engine.open(out, encoder=HashingEncoder())
    assert engine.generation.store.get([0])[0].attributes == {"colour": "brown"}
    assert engine.generation.store.get([0])[0].price == 1499.0
    build_module.compact(out, encoder=HashingEncoder())
    assert read_manifest(current_generation(out))["currency"] == "EUR"  # carried over
    # declared: `$` is then the declared dollar, and the euro row is the one rejected
    dollars = tmp_path / "dollars.csv"
    dollars.write_text("id,title,price\nA,Lamp,$5\nB,Rug,€7\n", encoding="utf-8")
    code, stdout, _ = run_cli(
        monkeypatch, capsys, "index", str(dollars), "--out", str(tmp_path / "cad"),
        "--currency", "cad", "--no-progress",
    )  # fmt: skip
    assert code == 1 and "1 rows rejected" in stdout
    assert read_manifest(current_generation(tmp_path / "cad"))["currency"] == "CAD"
    code, _, err = run_cli(
        monkeypatch, capsys, "index", str(dollars), "--out", str(tmp_path / "x"),
        "--currency", "dollars",
    )  # fmt: skip
    assert code == 2 and "unknown currency 'dollars'" in err
    # an update's prices must be in the index's currency
    delta = tmp_path / "delta.csv"
    delta.write_text("id,title,price\nD,Stool,$9\nE,Bowl,€12\n", encoding="utf-8")
    cad = str(tmp_path / "cad")
    code, stdout, _ = run_cli(monkeypatch, capsys, "update", cad, "--upsert", str(delta))
    assert code == 1 and "1 upserted" in stdout and "1 rows rejected" in stdout


def test_hnsw_build_is_reproducible(tmp_path: Path, catalog: Path) -> None:
    """A rebuild (or a resumed build) gives the same HNSW graph, whatever the thread count."""
    faiss = pytest.importorskip("faiss")
    params = build_module.DenseParams(hnsw_threshold=100)
    graphs = []
    for name in ("a", "b"):
        stats = build_catalog(
            catalog, tmp_path / name, HashingEncoder(), dense_params=params, threads=2
        )
        dense = Engine.open(tmp_path / name, encoder=HashingEncoder()).generation.dense
        assert dense.is_hnsw and stats.products == 270
        graphs.append(faiss.vector_to_array(faiss.downcast_index(dense._index).hnsw.neighbors))
    np.testing.assert_array_equal(graphs[0], graphs[1])
