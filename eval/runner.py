"""Run labelled queries through `search.Engine` and score them.

One configuration is (encoder spec, mode). Every configuration gets its own
cache-off Engine (cache_size=0), so each query is encoded inside the timed
Engine.search call and the latency is that of a cache miss.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyseek.eval.beir import LabelledQuery, LabelledSet
from tinyseek.search.relevance import DEEP_K, evaluate_ranking, mean_metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryResult:
    query_id: str
    kind: str
    ranked: list[str]
    latency_ms: float
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class ConfigResult:
    """All queries of one configuration: per-query rows, mean metrics, latency summary."""

    name: str
    encoder: str
    mode: str
    weights: dict[str, Any] | None
    queries: list[QueryResult]
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "encoder": self.encoder,
            "mode": self.mode,
            "weights": self.weights,
            "queries": len(self.queries),
            "errors": self.errors,
            "metrics": self.metrics,
            "latency_ms": self.latency_ms,
            **self.extra,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    return {
        "p50": percentile(latencies_ms, 50),
        "p95": percentile(latencies_ms, 95),
        "p99": percentile(latencies_ms, 99),
        "mean": statistics.fmean(latencies_ms) if latencies_ms else float("nan"),
    }


def metrics_by_kind(results: Sequence[QueryResult]) -> dict[str, dict[str, float]]:
    """Mean metrics per query kind (e.g. semantic / lexical / filtered), with the count."""
    kinds = sorted({r.kind for r in results if r.kind})
    out: dict[str, dict[str, float]] = {}
    for kind in kinds:
        rows = [r.metrics for r in results if r.kind == kind]
        out[kind] = {"queries": float(len(rows)), **mean_metrics(rows)}
    return out


def config_name(encoder_label: str, mode: str) -> str:
    """A configuration's stable name in reports and the gate: `<mode>` for BM25 (encoder-free),
    `<mode>/<encoder label>` otherwise."""
    return mode if mode == "bm25" else f"{mode}/{encoder_label}"


def encoder_label(spec: str) -> str:
    """Short name of an encoder spec for tables: 'teacher', or an artifact dir's name."""
    if spec in ("teacher", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return "teacher"
    return Path(spec).name or spec


def score_run(
    name: str,
    labelled: LabelledSet,
    search: Callable[[LabelledQuery], list[str]],
    k: int = 10,
    warmup: int = 5,
    progress: bool = False,
) -> tuple[list[QueryResult], int]:
    """Run `search` over every query, timing each call. Returns results and the error count.

    A query the engine rejects (ValueError, e.g. text that cleans to nothing) scores as an
    empty ranking and is counted, not raised.
    """
    for query in labelled.queries[:warmup]:
        with contextlib.suppress(ValueError):
            search(query)
    results: list[QueryResult] = []
    errors = 0
    total = len(labelled.queries)
    started = time.perf_counter()
    for i, query in enumerate(labelled.queries, start=1):
        t0 = time.perf_counter()
        try:
            ranked = search(query)
        except ValueError:
            ranked, errors = [], errors + 1
        latency = (time.perf_counter() - t0) * 1000
        metrics = evaluate_ranking(
            ranked, query.qrels, labelled.relevance_threshold, k=k, deep_k=DEEP_K
        )
        results.append(QueryResult(query.query_id, query.kind, ranked, latency, metrics))
        if progress and (i % 1000 == 0 or i == total):
            rate = i / (time.perf_counter() - started)
            log.info("  %s: %d/%d queries (%.0f/s)", name, i, total, rate)
    return results, errors


def run_engine_config(
    index_dir: Path,
    labelled: LabelledSet,
    mode: str,
    encoder: Any,
    label: str,
    k: int = 10,
    weights: Mapping[str, Any] | None = None,
    threads: int | None = 1,
    progress: bool = False,
    spell: bool = True,
) -> ConfigResult:
    """Score one (encoder, mode) configuration through a fresh cache-off Engine
    (with the engine's query spelling correction unless `spell` is False)."""
    from tinyseek.search.engine import Engine

    engine = Engine.open(index_dir, encoder=encoder, cache_size=0, threads=threads)
    depth = max(k, DEEP_K)

    def search(query: LabelledQuery) -> list[str]:
        hits = engine.search(
            query.text,
            k=depth,
            filters=query.filters or None,
            mode=mode,
            weights=weights,
            spell=spell,
        )
        return [hit.doc_id for hit in hits]

    name = config_name(label, mode)
    results, errors = score_run(name, labelled, search, k=k, progress=progress)
    used_weights = None
    if mode == "hybrid":
        used_weights = {**engine.default_weights.to_dict(), **(weights or {})}
    return ConfigResult(
        name=name,
        encoder="" if mode == "bm25" else label,
        mode=mode,
        weights=used_weights,
        queries=results,
        metrics=mean_metrics([r.metrics for r in results]),
        latency_ms=latency_summary([r.latency_ms for r in results]),
        errors=errors,
        extra={
            "index_kind": engine.generation.manifest.get("dense", {}).get("kind"),
            "spell": spell and engine.generation.speller is not None,
            "by_kind": metrics_by_kind(results),
        },
    )


def run_evaluation(
    labelled: LabelledSet,
    modes: Sequence[str],
    encoder_specs: Sequence[str],
    k: int = 10,
    cache_root: Path | None = None,
    threads: int | None = 1,
    weights: Mapping[str, Any] | None = None,
    progress: bool = True,
    spell: bool = True,
) -> list[ConfigResult]:
    """Every (encoder, mode) configuration; BM25 runs once since it does not use the encoder."""
    from tinyseek.eval.index_cache import ensure_index
    from tinyseek.models.encoder import load_encoder

    results: list[ConfigResult] = []
    bm25_done = False
    for spec in encoder_specs:
        encoder = load_encoder(spec, threads=threads)
        index_dir = ensure_index(
            labelled.corpus_path, labelled.name, encoder, spec, cache_root, progress=progress
        )
        label = encoder_label(spec)
        for mode in modes:
            if mode == "bm25":
                if bm25_done:
                    continue
                bm25_done = True
            if progress:
                log.info("evaluating %s", config_name(label, mode))
            results.append(
                run_engine_config(
                    index_dir,
                    labelled,
                    mode,
                    encoder,
                    label,
                    k,
                    weights=weights,
                    threads=threads,
                    progress=progress,
                    spell=spell,
                )
            )
    return results
