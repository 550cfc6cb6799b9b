"""Scale: dense index kinds chosen by size, recall measured against exact search, the
pipelined catalog build (stages on threads), and the synthetic catalog of the benchmarks."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import tinyseek.indexer.build as build_module
from tests.test_indexer_support import HashingEncoder, make_products, write_jsonl
from tinyseek.indexer import build_catalog, build_index
from tinyseek.indexer.build import measure_recall, training_sample, training_stride
from tinyseek.search.dense import DenseIndex, DenseKind, DenseParams, ExactTopK, recall_at_k
from tinyseek.search.engine import Engine
from tinyseek.search.layout import CURRENT, current_generation, read_manifest

REPO = Path(__file__).resolve().parent.parent


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors around 50 centres: embeddings have structure, uniform noise has none."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim))
    x = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, dim))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize(
    ("size", "kind"),
    [(100, "flat"), (20_000, "hnsw"), (499_999, "hnsw"), (500_000, "hnsw_sq8")],
)
def test_auto_kind_follows_size(size: int, kind: str) -> None:
    assert DenseParams().kind_for(size) is DenseKind(kind)
    assert DenseParams(kind="ivfpq").kind_for(size) is DenseKind.IVFPQ


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of auto, flat"):
        DenseParams(kind="annoy")


@pytest.mark.parametrize(("kind", "floor"), [("hnsw", 0.95), ("hnsw_sq8", 0.9), ("ivfpq", 0.5)])
def test_each_kind_against_the_numpy_oracle(tmp_path: Path, kind: str, floor: float) -> None:
    vectors = clustered(6000, 48, seed=1)
    queries = clustered(40, 48, seed=2)
    params = DenseParams(kind=kind, pq_m=12, nprobe=16)
    index = DenseIndex.create(48, len(vectors), params)
    assert index.needs_training is (kind != "hnsw")
    if index.needs_training:
        index.train(vectors[:: training_stride(len(vectors), 3000)])
    index.add(vectors)
    index.save(tmp_path / "d.faiss")
    index = DenseIndex.load(tmp_path / "d.faiss", params)
    assert index.kind == kind and not index.is_exact
    truth = exact_top(vectors, queries, 10)
    found = index.search_batch(queries, 10)
    recall = recall_at_k(found, truth)
    assert floor <= recall <= 1.0
    # a selective mask falls back to exhaustive search: exactly the allowed products
    mask = np.zeros(len(vectors), dtype=bool)
    mask[::97] = True
    hits = index.search(queries[0], 10, mask)
    assert len(hits) == 10 and all(mask[o] for o, _ in hits)
    if kind == "hnsw":  # exhaustive over float32: the oracle's order
        allowed = np.flatnonzero(mask)
        expected = allowed[np.argsort(-(vectors[allowed] @ queries[0]), kind="stable")[:10]]
        assert [o for o, _ in hits] == expected.tolist()
    # stored vectors decode close to the originals (exactly for float32)
    tolerance = {"hnsw": 0.0, "hnsw_sq8": 0.02, "ivfpq": 0.6}[kind]
    assert np.abs(index.vectors([3, 4]) - vectors[[3, 4]]).max() <= tolerance


def test_exact_top_k_streams_to_the_oracle() -> None:
    vectors = clustered(3000, 32, seed=3)
    queries = clustered(25, 32, seed=4)
    exact = ExactTopK(queries, 10)
    for start in range(0, len(vectors), 700):  # uneven shards
        exact.add(vectors[start : start + 700])
    np.testing.assert_array_equal(exact.ids(), exact_top(vectors, queries, 10))
    assert recall_at_k(exact.ids(), exact_top(vectors, queries, 10)) == 1.0
    assert recall_at_k(np.zeros((25, 10), dtype=np.int64), exact.ids()) < 0.2


def test_training_sample_does_not_depend_on_the_shards() -> None:
    vectors = np.arange(10_000, dtype=np.float32).reshape(-1, 1)
    whole = training_sample([vectors], len(vectors))
    split = training_sample(
        [vectors[:333], vectors[333:4000], vectors[4000:]], len(vectors)
    )  # fmt: skip
    np.testing.assert_array_equal(whole, split)
    stride = training_stride(10_000, 300)
    assert stride == 34 and len(training_sample([vectors], 10_000)) == 10_000


def test_measure_recall_leaves_each_product_out_of_its_own_ranking() -> None:
    vectors = clustered(2000, 32, seed=5)
    flat = DenseIndex.create(32, len(vectors), DenseParams(kind="flat"))
    flat.add(vectors)
    shards = lambda: iter([vectors[:900], vectors[900:]])  # noqa: E731
    assert measure_recall(flat, shards, len(vectors))["at_10"] == 1.0
    bad = DenseIndex.create(32, len(vectors), DenseParams(kind="flat"))
    bad.add(vectors[::-1].copy())  # every ordinal points at another vector
    assert measure_recall(bad, shards, len(vectors))["at_10"] < 0.2
    queries = clustered(30, 32, seed=6)
    result = measure_recall(flat, shards, len(vectors), queries)
    assert result == {"at_10": 1.0, "queries": "query texts", "sample": 30}


@pytest.fixture()
def catalog(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "catalog.jsonl", make_products(300))


def results(index_dir: Path) -> list[list[str]]:
    engine = Engine.open(index_dir, encoder=HashingEncoder())
    queries = ("oak chair", "cordless drill", "brass lamp", "blue rug")
    return [
        [h.doc_id for h in engine.search(q, k=10, mode=m)]
        for q in queries
        for m in ("bm25", "dense", "hybrid")
    ]


@pytest.mark.parametrize("kind", ["hnsw_sq8", "ivfpq"])
def test_quantised_builds_train_record_recall_and_compact(
    tmp_path: Path, catalog: Path, kind: str
) -> None:
    from tinyseek.indexer import compact

    out = tmp_path / kind
    params = DenseParams(kind=kind, pq_m=8, nprobe=8, ivf_lists=4)
    build_catalog(catalog, out, HashingEncoder(), dense_params=params, checkpoint_rows=64)
    manifest = read_manifest(current_generation(out))
    assert manifest["dense"]["kind"] == kind
    assert manifest["dense"]["dtype"] == {"hnsw_sq8": "uint8", "ivfpq": "pq8"}[kind]
    recall = manifest["dense"]["recall"]
    assert 0.0 < recall["at_10"] <= 1.0 and recall["sample"] == 200
    engine = Engine.open(out, encoder=HashingEncoder())
    assert engine.generation.dense.kind == kind and len(engine.search("oak chair", k=5)) == 5
    compact(out)
    assert read_manifest(current_generation(out))["dense"]["kind"] == kind
    # the streaming path (products from memory) trains at the end
    build_index(make_products(300), tmp_path / "stream", HashingEncoder(), dense_params=params)
    assert read_manifest(current_generation(tmp_path / "stream"))["dense"]["kind"] == kind


def test_pipelined_build_equals_a_resumed_one(
    tmp_path: Path, catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = DenseParams(kind="hnsw")
    build_catalog(catalog, tmp_path / "clean", HashingEncoder(), dense_params=params)
    clean = results(tmp_path / "clean")
    # a failing products stage (disk error in the store, say) stops the embedding too
    real = build_module.GenerationWriter.add_products
    calls = {"n": 0}

    def failing(self: build_module.GenerationWriter, products: list) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("store write failed")
        real(self, products)

    monkeypatch.setattr(build_module.GenerationWriter, "add_products", failing)
    out = tmp_path / "resumed"
    with pytest.raises(OSError, match="store write failed"):
        build_catalog(catalog, out, HashingEncoder(), dense_params=params, checkpoint_rows=20)
    assert not (out / CURRENT).exists()
    assert not list(out.glob(".tmp-gen-*"))  # the half-built generation is gone
    monkeypatch.setattr(build_module.GenerationWriter, "add_products", real)
    stats = build_catalog(
        catalog, out, HashingEncoder(), dense_params=params, checkpoint_rows=20, resume=True
    )
    assert stats.products == 300 and results(out) == clean


def test_synthetic_catalog_is_seeded_and_prefix_stable(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import synth_catalog
    finally:
        sys.path.pop(0)
    small, large = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    synth_catalog.write_catalog(small, 200, seed=3)
    synth_catalog.write_catalog(large, 400, seed=3)
    lines = large.read_text().splitlines()
    assert small.read_text().splitlines() == lines[:200]
    rows = [json.loads(line) for line in lines]
    assert len({r["id"] for r in rows}) == 400
    assert len({r["title"] for r in rows}) > 390  # titles vary, as real feeds do
    assert len({r["category"].split(" > ")[0] for r in rows}) == 10
    assert synth_catalog.product(4, 0) != synth_catalog.product(3, 0)
    queries = [synth_catalog.query(3, i) for i in range(50)]
    assert queries == [synth_catalog.query(3, i) for i in range(50)] and len(set(queries)) > 40
    from tinyseek.indexer.readers import read_catalog
    from tinyseek.search.types import Product

    assert all(isinstance(item, Product) for item in read_catalog(large))


class CountingTokenizer:
    """A PreTokenizing encoder whose token count is the text's number (e.g. "7" -> 7)."""

    name = "counting"
    dim = 2

    def __init__(self) -> None:
        self.tokenised = 0
        self.batches: list[list[int]] = []

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        self.tokenised += len(texts)
        return [[int(t)] * int(t) for t in texts]

    def encode_token_ids(self, ids: list[list[int]]) -> np.ndarray:
        self.batches.append([len(i) for i in ids])
        return np.array([[len(i), 0.0] for i in ids], dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        raise AssertionError("not used")

    def encode_documents(self, texts: list[str], batch_size: int = 64) -> Iterator[np.ndarray]:
        raise AssertionError("a pre-tokenising encoder is planned on its own token ids")


def test_pre_tokenising_encoders_tokenise_once_and_embed_in_input_order() -> None:
    """A compact artifact embeds every text alone, so no padding to plan: its texts are
    tokenised once and handed over in order, batch_size at a time."""
    from tinyseek.indexer.embedding import BatchPolicy, PreTokenizing, embed_texts

    encoder = CountingTokenizer()
    assert isinstance(encoder, PreTokenizing)
    lengths = np.random.default_rng(0).integers(1, 200, 500)
    texts = [str(n) for n in lengths]
    vectors = embed_texts(encoder, texts, BatchPolicy(batch_size=64))  # type: ignore[arg-type]
    assert encoder.tokenised == 500  # each text tokenised once
    np.testing.assert_array_equal(vectors[:, 0], lengths)
    assert [len(b) for b in encoder.batches] == [64] * 7 + [52]
    assert [n for b in encoder.batches for n in b] == list(lengths)  # input order
