"""Grid over hybrid fusion settings: RRF weights and convex-combination weights.

    python -m eval.tune_fusion DATASET [--encoder teacher] [--split dev] [--json OUT]

Every setting runs every query through `search.Engine.search` (top-100, with the
query's filters and the setting's weights), so what is scored is exactly what the
engine serves. Queries are encoded once, in batches, into the Engine's cache first;
this script measures quality, not latency. Tune on a development split only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyseek.eval.beir import LabelledSet
from tinyseek.eval.metrics import evaluate_ranking, mean_metrics

DEPTH = 100
RRF_RATIOS: tuple[tuple[float, float], ...] = ((1, 1), (2, 1), (3, 1), (1, 2), (1, 3))
CONVEX_DENSE: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
SHOWN = ("ndcg@10", "f1@10", "recall@100", "mrr@10")


@dataclass(frozen=True)
class FusionSetting:
    name: str
    method: str
    """'bm25', 'dense', 'rrf' or 'convex'."""
    bm25: float = 1.0
    dense: float = 1.0
    rrf_k: int = 60
    partial: float | None = None
    """BM25 weight multiplier for partial-word matches; None keeps the index default."""

    def weights(self) -> dict[str, Any] | None:
        if self.method not in ("rrf", "convex"):
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
    grid = [FusionSetting("bm25", "bm25"), FusionSetting("dense", "dense")]
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
            print(
                f"  {setting.name}: nDCG@{k} {results[setting.name][f'ndcg@{k}']:.4f}",
                file=sys.stderr,
            )
    return results


def best_fusion(results: dict[str, dict[str, float]], metric: str = "ndcg@10") -> str:
    """The best hybrid setting by `metric` (F1@10 breaks ties)."""
    hybrids = {n: m for n, m in results.items() if n.startswith(("rrf", "convex"))}
    return max(hybrids, key=lambda n: (round(hybrids[n][metric], 4), hybrids[n]["f1@10"]))


def table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| setting | " + " | ".join(SHOWN) + " |", "|---|" + "---|" * len(SHOWN)]
    for name, metrics in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{metrics[m]:.4f}" for m in SHOWN) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.tune_fusion", description=__doc__)
    parser.add_argument("dataset", help="'sample', 'homedepot' or a BEIR folder")
    parser.add_argument("--encoder", default="teacher")
    parser.add_argument("--split", default=None)
    parser.add_argument("--limit-queries", type=int, default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument(
        "--partial",
        type=float,
        action="append",
        default=[],
        help="also try this BM25 partial-match weight (repeatable; needs FusionWeights.partial)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from tinyseek.eval.datasets import resolve_dataset
    from tinyseek.eval.index_cache import ensure_index
    from tinyseek.models.encoder import load_encoder
    from tinyseek.search.engine import Engine

    spec = resolve_dataset(args.dataset, args.split)
    labelled = spec.load()
    if args.limit_queries:
        labelled = labelled.head(args.limit_queries)
    encoder = load_encoder(args.encoder, threads=args.threads)
    cache = Path(args.cache_dir) if args.cache_dir else None
    index_dir = ensure_index(labelled.corpus_path, labelled.name, encoder, args.encoder, cache)
    engine = Engine.open(index_dir, encoder=encoder, cache_size=len(labelled.queries) + 16)
    print(
        f"{spec.name}/{spec.split}: {len(labelled.queries)} queries, encoder {encoder.name}, "
        f"dense index {engine.generation.dense.kind}",
        file=sys.stderr,
    )
    encode_into_cache(engine, labelled)
    results = score_grid(engine, labelled, default_grid(partials=args.partial))
    print(table(results))
    best = best_fusion(results)
    print(f"\nbest hybrid by nDCG@10: {best} ({results[best]['ndcg@10']:.4f})")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"dataset": spec.name, "split": spec.split, "results": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
