"""Fusing two ranked lists: reciprocal rank fusion and a convex combination of normalised scores."""

from __future__ import annotations

from collections.abc import Sequence

Ranked = Sequence[tuple[int, float]]
"""(ordinal, score) pairs, best first."""


def bm25_item_weights(
    bm25: Ranked, w_bm25: float, full_matches: int | None, partial: float
) -> list[float]:
    """Weight of each BM25 item: the first `full_matches` (all query words) count fully,
    the rest (some words only) count `partial` times as much."""
    if full_matches is None:
        return [w_bm25] * len(bm25)
    return [w_bm25 if i < full_matches else w_bm25 * partial for i in range(len(bm25))]


def fuse_rrf(
    bm25: Ranked,
    dense: Ranked,
    w_bm25: float = 1.0,
    w_dense: float = 1.0,
    k: int = 60,
    full_matches: int | None = None,
    partial: float = 1.0,
) -> list[tuple[int, float]]:
    """score(d) = sum over lists of w / (k + rank), rank starting at 1.

    BM25 items past `full_matches` have their weight multiplied by `partial`.
    """
    scores: dict[int, float] = {}
    bm25_weights = bm25_item_weights(bm25, w_bm25, full_matches, partial)
    for rank, ((ordinal, _), weight) in enumerate(zip(bm25, bm25_weights), start=1):
        scores[ordinal] = scores.get(ordinal, 0.0) + weight / (k + rank)
    for rank, (ordinal, _) in enumerate(dense, start=1):
        scores[ordinal] = scores.get(ordinal, 0.0) + w_dense / (k + rank)
    return _sorted(scores)


def min_max(ranked: Ranked) -> dict[int, float]:
    """Scores rescaled to [0, 1] within the list; a list of equal scores maps to 1."""
    if not ranked:
        return {}
    values = [s for _, s in ranked]
    low, high = min(values), max(values)
    span = high - low
    return {o: (s - low) / span if span > 0 else 1.0 for o, s in ranked}


def fuse_convex(
    bm25: Ranked,
    dense: Ranked,
    w_bm25: float = 1.0,
    w_dense: float = 1.0,
    full_matches: int | None = None,
    partial: float = 1.0,
) -> list[tuple[int, float]]:
    """score(d) = (w_bm25 * norm_bm25(d) + w_dense * norm_dense(d)) / (w_bm25 + w_dense).

    Scores are min-max normalised within each list; a document absent from a list
    contributes 0 from it. BM25 items past `full_matches` are multiplied by `partial`.
    """
    total = w_bm25 + w_dense
    scores: dict[int, float] = {}
    bm25_norm = min_max(bm25)
    bm25_weights = bm25_item_weights(bm25, w_bm25, full_matches, partial)
    for (ordinal, _), weight in zip(bm25, bm25_weights):
        scores[ordinal] = scores.get(ordinal, 0.0) + weight * bm25_norm[ordinal] / total
    for ordinal, value in min_max(dense).items():
        scores[ordinal] = scores.get(ordinal, 0.0) + w_dense * value / total
    return _sorted(scores)


def _sorted(scores: dict[int, float]) -> list[tuple[int, float]]:
    # Ties break on the ordinal so results are deterministic.
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
