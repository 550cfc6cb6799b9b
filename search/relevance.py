"""Ranking metrics over one query: a ranked list of ids against graded labels.

`qrels` maps doc id -> graded gain (>= 0). Binary relevance is gain >= `threshold`.
The offline harness (`tinyseek.eval`), the publish-time quality check
(`tinyseek.indexer.quality`) and the service's re-evaluation all score with these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

DEEP_K = 100
"""Every scored query retrieves this many results, for Recall@100 and MAP@100."""


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain with linear gains and log2(rank + 1) discount."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, float], k: int) -> float:
    ideal = dcg(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([max(qrels.get(d, 0.0), 0.0) for d in ranked[:k]]) / ideal


def relevant_set(qrels: Mapping[str, float], threshold: float) -> set[str]:
    return {d for d, g in qrels.items() if g >= threshold}


def mrr_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    for i, d in enumerate(ranked[:k]):
        if d in relevant:
            return 1.0 / (i + 1)
    return 0.0


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def precision_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    return len(relevant.intersection(ranked[:k])) / k


def f1_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    p = precision_at_k(ranked, relevant, k)
    r = recall_at_k(ranked, relevant, k)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def average_precision(ranked: Sequence[str], relevant: set[str], k: int | None = None) -> float:
    """AP over the (optionally cut) ranking, normalised by the number of relevant docs."""
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for i, d in enumerate(ranked if k is None else ranked[:k]):
        if d in relevant:
            hits += 1
            total += hits / (i + 1)
    return total / len(relevant)


BINARY_METRICS = ("mrr", "precision", "recall", "f1", "map")


def metric_names(k: int = 10, deep_k: int = DEEP_K) -> list[str]:
    """Names `evaluate_ranking` reports, in display order."""
    return [
        f"ndcg@{k}",
        f"f1@{k}",
        f"precision@{k}",
        f"recall@{k}",
        f"mrr@{k}",
        f"recall@{deep_k}",
        f"map@{deep_k}",
    ]


def evaluate_ranking(
    ranked: Sequence[str],
    qrels: Mapping[str, float],
    threshold: float,
    k: int = 10,
    deep_k: int = DEEP_K,
) -> dict[str, float | None]:
    """All metrics of one query.

    nDCG uses the graded gains. The binary metrics (relevant = gain >= threshold) are
    None for a query without any relevant document, so averages skip it: F1@10 is a
    mean over queries with at least one relevant product.
    """
    relevant = relevant_set(qrels, threshold)
    has_relevant = bool(relevant)
    values: dict[str, float | None] = {
        f"ndcg@{k}": ndcg_at_k(ranked, qrels, k),
        f"f1@{k}": f1_at_k(ranked, relevant, k) if has_relevant else None,
        f"precision@{k}": precision_at_k(ranked, relevant, k) if has_relevant else None,
        f"recall@{k}": recall_at_k(ranked, relevant, k) if has_relevant else None,
        f"mrr@{k}": mrr_at_k(ranked, relevant, k) if has_relevant else None,
        f"recall@{deep_k}": recall_at_k(ranked, relevant, deep_k) if has_relevant else None,
        f"map@{deep_k}": average_precision(ranked, relevant, deep_k) if has_relevant else None,
    }
    return values


def mean_metrics(per_query: Sequence[Mapping[str, float | None]]) -> dict[str, float]:
    """Mean of each metric over the queries where it is defined (not None); NaN if none."""
    names: list[str] = []
    for row in per_query:
        names.extend(n for n in row if n not in names)
    means: dict[str, float] = {}
    for name in names:
        values = [v for row in per_query if (v := row.get(name)) is not None]
        means[name] = sum(values) / len(values) if values else math.nan
    return means
