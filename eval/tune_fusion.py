"""Grid over hybrid fusion settings: RRF weights and convex-combination weights.

    tinyseek tune-fusion DATASET [--encoder teacher] [--split dev] [--json OUT]

Every setting runs every query through `search.Engine.search` (top-100, with the
query's filters and the setting's weights), so what is scored is exactly what the
engine serves. Queries are encoded once, in batches, into the Engine's cache first;
this script measures quality, not latency. Tune on a development split only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tinyseek.eval.beir import LabelledSet
from tinyseek.search.relevance import evaluate_ranking, mean_metrics

log = logging.getLogger(__name__)

DEPTH = 100
RRF_RATIOS: tuple[tuple[float, float], ...] = ((1, 1), (2, 1), (3, 1), (1, 2), (1, 3))
CONVEX_DENSE: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
SHOWN = ("ndcg@10", "f1@10", "recall@100", "mrr@10")


@dataclass(frozen=True)
class FusionSetting:
    name: str
    method: str
    """'bm25', 'dense', 'adaptive', 'rrf' or 'convex'."""
    bm25: float = 1.0
    dense: float = 1.0
    rrf_k: int = 60
    partial: float | None = None
    """BM25 weight multiplier for partial-word matches; None keeps the index default."""

    def weights(self) -> dict[str, Any] | None:
        if self.method not in ("adaptive", "rrf", "convex"):
            return None
        weights: dict[str, Any] = {
            "method": self.method,
            "bm25": self.bm25,
            "dense": self.dense,
            "rrf_k": self.rrf_k,
        }
        if self.partial is not None:
            weights["partial"] = self.partial
        return weights


def default_grid(
    partials: Sequence[float] = (), partial: float | None = None
) -> list[FusionSetting]:
    """BM25, dense, RRF bm25:dense ratios, convex dense weights, all at `partial` (None: the
    index default); then RRF 1:1 and convex 0.5 again at each of `partials`."""
    at = "" if partial is None else f" partial={partial:g}"
    grid = [
        FusionSetting("bm25", "bm25"),
        FusionSetting("dense", "dense"),
        FusionSetting("adaptive (default)", "adaptive"),
    ]
    for b, d in RRF_RATIOS:
        grid.append(FusionSetting(f"rrf k=60 {b:g}:{d:g}{at}", "rrf", b, d, partial=partial))
    for w in CONVEX_DENSE:
        grid.append(
            FusionSetting(
                f"convex w_dense={w:g}{at}", "convex", round(1 - w, 6), w, partial=partial
            )
        )
    for p in partials:
        grid.append(FusionSetting(f"rrf k=60 1:1 partial={p:g}", "rrf", 1, 1, partial=p))
        grid.append(
            FusionSetting(f"convex w_dense=0.5 partial={p:g}", "convex", 0.5, 0.5, partial=p)
        )
    return grid


def encode_into_cache(engine: Any, labelled: LabelledSet, batch: int = 64) -> None:
    """Batch-encode every query into the Engine's cache (keys are cleaned query text)."""
    from tinyseek.search.engine import clean_query

    texts = []
    for query in labelled.queries:
        try:
            texts.append(clean_query(query.text))
        except ValueError:  # Engine.search refuses it too; scored as an empty ranking
            continue
    unique = list(dict.fromkeys(texts))
    for start in range(0, len(unique), batch):
        chunk = unique[start : start + batch]
        for text, vector in zip(chunk, engine.encoder.encode_queries(chunk)):
            engine.cache.put(text, vector)


def score_grid(
    engine: Any,
    labelled: LabelledSet,
    grid: Sequence[FusionSetting],
    k: int = 10,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """Mean metrics of every setting, each query searched through Engine.search."""
    results: dict[str, dict[str, float]] = {}
    for setting in grid:
        mode = setting.method if setting.method in ("bm25", "dense") else "hybrid"
        rows = []
        for query in labelled.queries:
            try:
                hits = engine.search(
                    query.text,
                    k=DEPTH,
                    filters=query.filters or None,
                    mode=mode,
                    weights=setting.weights(),
                )
            except ValueError:
                hits = []
            ranked = [h.doc_id for h in hits]
            rows.append(
                evaluate_ranking(ranked, query.qrels, labelled.relevance_threshold, k, DEPTH)
            )
        results[setting.name] = mean_metrics(rows)
        if progress:
            log.info("  %s: nDCG@%d %.4f", setting.name, k, results[setting.name][f"ndcg@{k}"])
    return results


def best_fusion(results: dict[str, dict[str, float]], metric: str = "ndcg@10") -> str:
    """The best hybrid setting by `metric` (F1@10 breaks ties)."""
    hybrids = {n: m for n, m in results.items() if n.startswith(("adaptive", "rrf", "convex"))}
    return max(hybrids, key=lambda n: (round(hybrids[n][metric], 4), hybrids[n]["f1@10"]))


def table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| setting | " + " | ".join(SHOWN) + " |", "|---|" + "---|" * len(SHOWN)]
    for name, metrics in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{metrics[m]:.4f}" for m in SHOWN) + " |")
    return "\n".join(lines)
