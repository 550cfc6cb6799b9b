"""Fusing two ranked lists: reciprocal rank fusion and a convex combination of normalised scores."""

from __future__ import annotations

from collections.abc import Sequence

Ranked = Sequence[tuple[int, float]]
"""(ordinal, score) pairs, best first."""


def fuse_rrf(
    bm25: Ranked, dense: Ranked, w_bm25: float = 1.0, w_dense: float = 1.0, k: int = 60
) -> list[tuple[int, float]]:
    """score(d) = sum over lists of w / (k + rank), rank starting at 1."""
    scores: dict[int, float] = {}
    for weight, ranked in ((w_bm25, bm25), (w_dense, dense)):
        for rank, (ordinal, _) in enumerate(ranked, start=1):
            scores[ordinal] = scores.get(ordinal, 0.0) + weight / (k + rank)
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
    bm25: Ranked, dense: Ranked, w_bm25: float = 1.0, w_dense: float = 1.0
) -> list[tuple[int, float]]:
    """score(d) = (w_bm25 * norm_bm25(d) + w_dense * norm_dense(d)) / (w_bm25 + w_dense).

    A document absent from a list contributes 0 from that list.
    """
    total = w_bm25 + w_dense
    scores: dict[int, float] = {}
    for weight, ranked in ((w_bm25, bm25), (w_dense, dense)):
        for ordinal, value in min_max(ranked).items():
            scores[ordinal] = scores.get(ordinal, 0.0) + weight * value / total
    return _sorted(scores)


def _sorted(scores: dict[int, float]) -> list[tuple[int, float]]:
    # Ties break on the ordinal so results are deterministic.
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
