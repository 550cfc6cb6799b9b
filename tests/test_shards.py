"""Shards (`tinyseek shard`, `search.shards`): the sample index's vectors cut into parts by
product id and searched as one give the very pages the whole index gives; a set cut from
another state, or with a damaged part, is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinyseek.indexer.shards import cut_shards
from tinyseek.indexer.writer import IndexWriter
from tinyseek.search.dense import DenseIndex, DenseParams
from tinyseek.search.engine import Engine
from tinyseek.search.layout import current_generation
from tinyseek.search.shards import LocalPart, ShardedDense, ShardSet, part_files, shard_of
from tinyseek.search.types import Product

REPO = Path(__file__).resolve().parents[1]
QUERIES = [json.loads(line)["text"] for line in (REPO / "sample_data/queries.jsonl").open()]
FILTERS: list[dict[str, Any]] = [{}, {"price_max": 300}, {"category": "Furniture"}]


def page_of(engine: Engine, query: str, mode: str, filters: dict[str, Any]) -> tuple[Any, ...]:
    page = engine.search_page(query, k=10, mode=mode, filters=filters, facets="all")
    hits = [(h.doc_id, round(h.score, 9), h.dense_rank, h.bm25_rank, h.match) for h in page.hits]
    return page.total, hits, page.facets


@pytest.fixture(scope="module")
def whole(sample_index: Path, teacher: Any) -> Engine:
    return Engine.open(sample_index, encoder=teacher)


@pytest.mark.parametrize("shards", [2, 3])
def test_a_sharded_index_gives_the_pages_of_the_whole_one(
    sample_index: Path, teacher: Any, whole: Engine, tmp_path: Path, shards: int
) -> None:
    cut = cut_shards(sample_index, tmp_path / "shards", shards)
    generation = whole.generation
    assert cut.kind == "flat" and cut.size == len(generation.alive)
    assert sum(part["count"] for part in cut.parts) == cut.size
    for i in range(shards):  # each product is in the part its id hashes to
        ids = generation.ordinal_ids[cut.ordinals(i)]
        assert len(ids) and {shard_of(str(product_id), shards) for product_id in ids} == {i}

    sharded = Engine.open(sample_index, encoder=teacher, sharded=ShardedDense.local(cut.folder))
    assert sharded.sharded and not whole.sharded
    compared = 0
    for query in QUERIES:
        for mode in ("hybrid", "bm25", "dense"):
            for filters in FILTERS:
                assert page_of(sharded, query, mode, filters) == page_of(
                    whole, query, mode, filters
                ), (query, mode, filters)
                compared += 1
    assert compared == len(QUERIES) * 9
    some = [7, 3, 500, 1000]
    assert (sharded.generation.dense.vectors(some) == generation.dense.vectors(some)).all()


def test_parts_merge_like_one_index_equal_scores_in_ordinal_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[4] = vectors[1]  # the same product text twice, in different parts
    flat = DenseParams(kind="flat")
    whole = DenseIndex.create(8, 6, flat)
    whole.add(vectors)
    parts = []
    for i, ordinals in enumerate((np.array([0, 2, 4]), np.array([1, 3, 5]))):
        index = DenseIndex.create(8, 3, flat)
        index.add(vectors[ordinals])
        np.save(tmp_path / part_files(i)[1], ordinals)
        parts.append(LocalPart(index, ordinals))
    sharded = ShardedDense(ShardSet(tmp_path, "gen-000001", 0, "flat", 6, 8, ({}, {})), parts)
    query = vectors[1]
    assert [o for o, _ in sharded.search(query, 2)] == [1, 4]
    assert sharded.search(query, 6) == whole.search(query, 6)
    mask = np.array([True, False, True, True, True, False])
    assert sharded.search(query, 3, mask) == whole.search(query, 3, mask)
    assert (sharded.vectors([5, 0, 4]) == vectors[[5, 0, 4]]).all()


def test_shards_of_another_state_or_damaged_are_refused(
    sample_index: Path, teacher: Any, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    cut = cut_shards(index, tmp_path / "shards", 2)
    with IndexWriter(index, teacher) as writer:
        writer.upsert([Product(id="new-1", title="Walnut writing desk with two drawers")])
        writer.commit()
    with pytest.raises(ValueError, match="cut them again"):
        Engine.open(index, encoder=teacher, sharded=ShardedDense.local(cut.folder))

    again = cut_shards(index, tmp_path / "shards", 2)  # replaces the stale set
    engine = Engine.open(index, encoder=teacher, sharded=ShardedDense.local(again.folder))
    assert engine.search("walnut writing desk", k=1)[0].doc_id == "new-1"
    assert engine.reload_if_changed() is False  # pinned to the state it was cut from

    index_file = again.folder / part_files(1)[0]
    index_file.write_bytes(index_file.read_bytes()[:-64])
    with pytest.raises(ValueError, match="does not match its recorded sha256"):
        ShardedDense.local(again.folder)
    with pytest.raises(FileNotFoundError, match="no shard set"):
        ShardSet.read(tmp_path)


def shard_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tinyseek.cli", "shard", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_shard_command(sample_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "cut"
    done = shard_command(str(sample_index), "--shards", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    generation = current_generation(sample_index).name
    assert f"cut {generation} revision 0 (1212 vectors, flat) into 2 shards of" in done.stdout
    assert ShardSet.read(out).generation == generation
    bad = shard_command(str(sample_index), "--shards", "1", "--out", str(tmp_path / "one"))
    assert bad.returncode == 2 and "--shards must be at least 2" in bad.stderr


def test_the_service_serves_a_shard_set_and_refuses_writes(
    sample_index: Path, teacher: Any, whole: Engine, tmp_path: Path
) -> None:
    """`tinyseek serve DIR --shards SHARDS` without Ray: the parts load in the service."""
    from fastapi.testclient import TestClient

    from tinyseek.api.app import create_app
    from tinyseek.api.settings import Settings

    cut = cut_shards(sample_index, tmp_path / "shards", 2)
    settings = Settings(index_dir=sample_index, shards=cut.folder, api_key="k")
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 300  # the service loads the index in the background
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.5)
        for query in ("couch", "lamp for reading", "cordless screwdriver"):
            body = client.get("/search", params={"q": query, "mode": "dense"}).json()
            page = whole.search_page(query, mode="dense")
            assert body["total"] == page.total
            assert [h["id"] for h in body["hits"]] == [h.doc_id for h in page.hits]
        write = client.post(
            "/documents",
            json={"products": [{"id": "n1", "title": "Oak desk"}]},
            headers={"X-API-Key": "k"},
        )
        assert write.status_code == 409 and "tinyseek shard" in write.text
