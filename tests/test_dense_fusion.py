"""FAISS retrieval and both fusion methods against brute-force numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest

from tinyseek.search.dense import DenseIndex, DenseParams
from tinyseek.search.fusion import (
    LEXICAL,
    PARTIAL,
    SEMANTIC,
    AdaptiveRule,
    QuerySignals,
    adaptive_rule,
    fuse_adaptive,
    fuse_convex,
    fuse_rrf,
)


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def oracle_top(
    vectors: np.ndarray, query: np.ndarray, n: int, mask: np.ndarray | None
) -> list[int]:
    scores = vectors @ query
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:n]
    return [int(i) for i in order if np.isfinite(scores[i])]


@pytest.fixture(scope="module")
def corpus() -> np.ndarray:
    return unit_vectors(3000, 48, seed=7)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return unit_vectors(20, 48, seed=8)


def build(corpus: np.ndarray, hnsw: bool) -> DenseIndex:
    params = DenseParams(hnsw_threshold=1000 if hnsw else 10**9, ef_search=128)
    index = DenseIndex.create(corpus.shape[1], len(corpus), params)
    index.add(corpus)
    assert index.is_hnsw is hnsw
    return index


def test_flat_search_is_exact(corpus: np.ndarray, queries: np.ndarray) -> None:
    index = build(corpus, hnsw=False)
    for q in queries:
        hits = index.search(q, 10)
        assert [o for o, _ in hits] == oracle_top(corpus, q, 10, None)
        assert np.allclose([s for _, s in hits], corpus[[o for o, _ in hits]] @ q, atol=1e-5)


def test_hnsw_recall_against_oracle(corpus: np.ndarray, queries: np.ndarray) -> None:
    index = build(corpus, hnsw=True)
    found = sum(
        len({o for o, _ in index.search(q, 10)} & set(oracle_top(corpus, q, 10, None)))
        for q in queries
    )
    assert found / (10 * len(queries)) >= 0.95


@pytest.mark.parametrize("hnsw", [False, True])
@pytest.mark.parametrize("keep_fraction", [0.5, 0.01, 0.002])
def test_masked_search_returns_exact_allowed_top(
    corpus: np.ndarray, queries: np.ndarray, hnsw: bool, keep_fraction: float
) -> None:
    index = build(corpus, hnsw=hnsw)
    rng = np.random.default_rng(11)
    mask = rng.random(len(corpus)) < keep_fraction
    allowed = int(mask.sum())
    for q in queries[:5]:
        hits = index.search(q, 10, mask)
        ids = [o for o, _ in hits]
        assert len(ids) == min(10, allowed), "k results whenever k allowed vectors exist"
        assert all(mask[i] for i in ids)
        expected = oracle_top(corpus, q, 10, mask)
        if hnsw and keep_fraction >= 0.02:
            assert len(set(ids) & set(expected)) >= 8
        else:
            assert ids == expected


def test_empty_mask_returns_nothing(corpus: np.ndarray) -> None:
    index = build(corpus, hnsw=False)
    assert index.search(corpus[0], 5, np.zeros(len(corpus), dtype=bool)) == []


def test_save_load_round_trip(tmp_path, corpus: np.ndarray, queries: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    index = build(corpus, hnsw=True)
    index.save(tmp_path / "dense.faiss")
    loaded = DenseIndex.load(tmp_path / "dense.faiss", index.params)
    assert loaded.is_hnsw and len(loaded) == len(corpus)
    assert loaded.search(queries[0], 10) == index.search(queries[0], 10)


def random_runs(seed: int) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    rng = np.random.default_rng(seed)
    a_ids = rng.choice(200, size=50, replace=False)
    b_ids = rng.choice(200, size=50, replace=False)
    a = sorted(zip(a_ids.tolist(), rng.random(50).tolist() * 20), key=lambda t: -t[1])
    b = sorted(zip(b_ids.tolist(), (rng.random(50) * 2 - 1).tolist()), key=lambda t: -t[1])
    return a, b


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("w_a", "w_b", "k"), [(1.0, 1.0, 60), (2.0, 0.5, 10), (0.0, 1.0, 60)])
def test_rrf_matches_oracle(seed: int, w_a: float, w_b: float, k: int) -> None:
    a, b = random_runs(seed)
    fused = dict(fuse_rrf(a, b, w_a, w_b, k))
    ids = {o for o, _ in a} | {o for o, _ in b}
    rank_a = {o: r + 1 for r, (o, _) in enumerate(a)}
    rank_b = {o: r + 1 for r, (o, _) in enumerate(b)}
    for doc in ids:
        expected = (w_a / (k + rank_a[doc]) if doc in rank_a else 0.0) + (
            w_b / (k + rank_b[doc]) if doc in rank_b else 0.0
        )
        assert fused[doc] == pytest.approx(expected)
    ordered = fuse_rrf(a, b, w_a, w_b, k)
    assert [s for _, s in ordered] == sorted((s for _, s in ordered), reverse=True)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("w_a", "w_b"), [(1.0, 1.0), (0.3, 0.7), (1.0, 0.0)])
def test_convex_matches_oracle(seed: int, w_a: float, w_b: float) -> None:
    a, b = random_runs(seed)
    fused = dict(fuse_convex(a, b, w_a, w_b))
    sa = np.array([s for _, s in a])
    sb = np.array([s for _, s in b])
    norm_a = {o: (s - sa.min()) / (sa.max() - sa.min()) for o, s in a}
    norm_b = {o: (s - sb.min()) / (sb.max() - sb.min()) for o, s in b}
    for doc in {o for o, _ in a} | {o for o, _ in b}:
        expected = (w_a * norm_a.get(doc, 0.0) + w_b * norm_b.get(doc, 0.0)) / (w_a + w_b)
        assert fused[doc] == pytest.approx(expected)


def test_fusion_ties_are_deterministic() -> None:
    a = [(5, 1.0), (3, 0.5)]
    b = [(3, 0.9), (5, 0.1)]
    assert fuse_rrf(a, b) == fuse_rrf(a, b)
    assert [o for o, _ in fuse_rrf(a, b)] == [3, 5]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("partial", [0.0, 0.3, 1.0])
def test_partial_matches_are_discounted_in_both_fusions(seed: int, partial: float) -> None:
    a, b = random_runs(seed)
    full = 20
    rrf = dict(fuse_rrf(a, b, 1.0, 1.0, 60, full_matches=full, partial=partial))
    convex = dict(fuse_convex(a, b, 1.0, 1.0, full_matches=full, partial=partial))
    rank_b = {o: r + 1 for r, (o, _) in enumerate(b)}
    sa = np.array([s for _, s in a])
    sb = np.array([s for _, s in b])
    for rank, (doc, score) in enumerate(a, start=1):
        w = 1.0 if rank <= full else partial
        dense_part = 1 / (60 + rank_b[doc]) if doc in rank_b else 0.0
        assert rrf[doc] == pytest.approx(w / (60 + rank) + dense_part)
        nb = dict(zip([o for o, _ in b], (sb - sb.min()) / (sb.max() - sb.min())))
        expected = (w * (score - sa.min()) / (sa.max() - sa.min()) + nb.get(doc, 0.0)) / 2
        assert convex[doc] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("signals", "rule"),
    [
        (QuerySignals(full_matches=3, coverage=1.0, agreement=0.2), LEXICAL),
        (QuerySignals(full_matches=0, coverage=0.75, agreement=0.95), PARTIAL),
        (QuerySignals(full_matches=0, coverage=0.75, agreement=0.3), SEMANTIC),
        (QuerySignals(full_matches=0, coverage=0.4, agreement=0.95), SEMANTIC),
        (QuerySignals(full_matches=0, coverage=0.5, agreement=0.7), SEMANTIC),
        (QuerySignals(full_matches=0, coverage=0.5, agreement=0.9), PARTIAL),
        (QuerySignals(full_matches=0, coverage=0.5, agreement=0.82), SEMANTIC),
    ],
)
def test_adaptive_rule_follows_the_query_signals(signals: QuerySignals, rule: AdaptiveRule) -> None:
    assert adaptive_rule(signals) == rule


@pytest.mark.parametrize("seed", range(5))
def test_adaptive_fusion_is_rrf_with_the_rule_weights(seed: int) -> None:
    bm25, dense = random_runs(seed)
    for signals in (
        QuerySignals(4, 1.0, 0.9),
        QuerySignals(0, 0.8, 0.9),
        QuerySignals(0, 0.2, 0.9),
    ):
        rule = adaptive_rule(signals)
        expected = fuse_rrf(
            bm25, dense, 2.0, 0.5 * rule.dense, 60, signals.full_matches, rule.partial
        )
        assert fuse_adaptive(bm25, dense, signals, 2.0, 0.5) == expected
    semantic = fuse_adaptive(bm25, dense, QuerySignals(0, 0.2, 0.9))
    assert [o for o, _ in semantic[: len(dense)]] == [o for o, _ in dense]  # the dense ranking
