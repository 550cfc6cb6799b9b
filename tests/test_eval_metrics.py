"""Ranking metrics: hand-computed values, and agreement with trec_eval (pytrec_eval)."""

from __future__ import annotations

import math
import random

import pytest

from tinyseek.eval.runner import percentile
from tinyseek.search.relevance import (
    average_precision,
    evaluate_ranking,
    f1_at_k,
    mean_metrics,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    relevant_set,
)

RANKED = ["a", "x", "b", "y", "c"]
QRELS = {"a": 2.0, "b": 1.0, "c": 1.0, "d": 2.0, "z": 0.0}


def test_ndcg_hand_computed() -> None:
    dcg = 2 / math.log2(2) + 1 / math.log2(4) + 1 / math.log2(6)
    ideal = 2 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(5)
    assert ndcg_at_k(RANKED, QRELS, 5) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(RANKED, QRELS, 5) == pytest.approx(0.688570, abs=1e-6)
    # Cut at 1: the single best document is relevant at gain 2 = ideal.
    assert ndcg_at_k(RANKED, QRELS, 1) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], QRELS, 10) == 0.0
    assert ndcg_at_k(RANKED, {"a": 0.0}, 10) == 0.0


def test_binary_metrics_hand_computed() -> None:
    relevant = relevant_set(QRELS, 1.0)
    assert relevant == {"a", "b", "c", "d"}
    assert precision_at_k(RANKED, relevant, 5) == pytest.approx(0.6)
    assert recall_at_k(RANKED, relevant, 5) == pytest.approx(0.75)
    assert f1_at_k(RANKED, relevant, 5) == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert mrr_at_k(RANKED, relevant, 5) == 1.0
    assert average_precision(RANKED, relevant) == pytest.approx((1 + 2 / 3 + 3 / 5) / 4)
    # Precision@10 divides by k even when fewer results came back.
    assert precision_at_k(RANKED, relevant, 10) == pytest.approx(0.3)


def test_threshold_changes_binary_metrics_only() -> None:
    strict = relevant_set(QRELS, 2.0)
    assert strict == {"a", "d"}
    assert f1_at_k(RANKED, strict, 5) == pytest.approx(2 * 0.2 * 0.5 / 0.7)
    assert mrr_at_k(["x", "y", "d"], strict, 5) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "d"], strict, 2) == 0.0
    assert average_precision(RANKED, strict) == pytest.approx(0.5)
    loose = evaluate_ranking(RANKED, QRELS, threshold=1.0, k=5, deep_k=10)
    tight = evaluate_ranking(RANKED, QRELS, threshold=2.0, k=5, deep_k=10)
    assert loose["ndcg@5"] == tight["ndcg@5"]
    assert loose["f1@5"] != tight["f1@5"]


def test_query_without_relevant_is_skipped_by_binary_means() -> None:
    with_rel = evaluate_ranking(["a"], {"a": 2.0}, threshold=1.5, k=10)
    only_partial = evaluate_ranking(["a"], {"a": 1.0}, threshold=1.5, k=10)
    assert only_partial["f1@10"] is None and only_partial["mrr@10"] is None
    assert only_partial["ndcg@10"] == pytest.approx(1.0)
    means = mean_metrics([with_rel, only_partial])
    assert means["f1@10"] == pytest.approx(with_rel["f1@10"])  # averaged over 1 query
    assert means["ndcg@10"] == pytest.approx(1.0)  # averaged over 2
    assert math.isnan(mean_metrics([only_partial])["f1@10"])


def test_precision_rejects_bad_k() -> None:
    with pytest.raises(ValueError, match="k must be positive"):
        precision_at_k(RANKED, {"a"}, 0)


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4, 5], 50) == 3
    assert percentile(list(range(101)), 99) == pytest.approx(99)
    assert percentile([10.0, 20.0], 95) == pytest.approx(19.5)
    assert math.isnan(percentile([], 50))


def random_runs(seed: int, queries: int = 40, docs: int = 150) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """Integer grades 0-2 (trec_eval wants ints), each query with >= 1 relevant document."""
    rng = random.Random(seed)
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(queries):
        qid = f"q{q}"
        judged = rng.sample(range(docs), rng.randint(1, 25))
        grades = {f"d{d}": rng.choice([0, 0, 1, 1, 2]) for d in judged}
        grades[f"d{judged[0]}"] = rng.choice([1, 2])
        qrels[qid] = grades
        retrieved = rng.sample(range(docs), rng.randint(5, 120))
        # Distinct descending scores: trec_eval orders by score, we by list position.
        run[qid] = {f"d{d}": 1000.0 - i for i, d in enumerate(retrieved)}
    return qrels, run


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("level", [1, 2])
def test_agrees_with_trec_eval(seed: int, level: int) -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels, run = random_runs(seed)
    # trec_eval's recip_rank has no cut-off: give it the top 10 only for MRR@10.
    top10 = {q: dict(list(r.items())[:10]) for q, r in run.items()}
    measures = {"ndcg_cut.10", "P.10", "recall.10", "recall.100", "map_cut.100"}
    reference = pytrec_eval.RelevanceEvaluator(qrels, measures, relevance_level=level).evaluate(run)
    reference_rr = pytrec_eval.RelevanceEvaluator(
        qrels, {"recip_rank"}, relevance_level=level
    ).evaluate(top10)
    ours = []
    for qid, scores in run.items():
        ranked = list(scores)
        gains = {d: float(g) for d, g in qrels[qid].items()}
        values = evaluate_ranking(ranked, gains, threshold=level, k=10, deep_k=100)
        ours.append(values)
        ref = reference[qid]
        assert values["ndcg@10"] == pytest.approx(ref["ndcg_cut_10"], abs=1e-9)
        if values["precision@10"] is None:  # no document reaches this level
            continue
        assert values["precision@10"] == pytest.approx(ref["P_10"], abs=1e-9)
        assert values["recall@10"] == pytest.approx(ref["recall_10"], abs=1e-9)
        assert values["recall@100"] == pytest.approx(ref["recall_100"], abs=1e-9)
        assert values["map@100"] == pytest.approx(ref["map_cut_100"], abs=1e-9)
        assert values["mrr@10"] == pytest.approx(reference_rr[qid]["recip_rank"], abs=1e-9)
        p, r = ref["P_10"], ref["recall_10"]
        assert values["f1@10"] == pytest.approx(0 if p + r == 0 else 2 * p * r / (p + r))
    assert len(ours) == len(run)
