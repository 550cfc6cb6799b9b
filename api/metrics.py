"""Prometheus metrics on a per-app registry (two apps in one process never share counters)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from tinyseek.api.quality import QualityMonitor
    from tinyseek.search.engine import Engine

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075,
    0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip


class EngineCollector(Collector):
    """Reads the engine's state at scrape time, so request paths never update these."""

    def __init__(
        self,
        engine: Callable[[], Engine | None],
        refused: Callable[[], str | None],
        pending_writes: Callable[[], int],
    ) -> None:
        self._engine = engine
        self._refused = refused
        self._pending_writes = pending_writes

    def collect(self) -> Iterator[Metric]:
        engine = self._engine()
        ready = GaugeMetricFamily("tinyseek_ready", "1 when an index generation is loaded")
        ready.add_metric([], 0 if engine is None else 1)
        yield ready
        refused = GaugeMetricFamily(
            "tinyseek_generation_refused",
            "1 while a newer index state failed verification (the last good one serves)",
        )
        refused.add_metric([], 0 if self._refused() is None else 1)
        yield refused
        if engine is None:
            return
        pending = GaugeMetricFamily(
            "tinyseek_writes_pending",
            "journaled (durable) writes not yet applied to the served generation",
        )
        try:
            pending.add_metric([], float(self._pending_writes()))
        except Exception:  # an unreadable journal: /readyz says why
            pending.add_metric([], float("nan"))
        yield pending
        gen = engine.generation
        info = InfoMetricFamily("tinyseek_index", "the served index generation")
        info.add_metric(
            [],
            {
                "generation": gen.name,
                "revision": str(gen.manifest.get("revision", 0)),
                "created_at": str(gen.manifest.get("created_at", "")),
            },
        )
        yield info
        number = GaugeMetricFamily(
            "tinyseek_index_generation", "number of the served generation (gen-NNNNNN)"
        )
        number.add_metric([], float(gen.name.rsplit("-", 1)[-1]))
        yield number
        products = GaugeMetricFamily("tinyseek_products", "live products in the served index")
        products.add_metric([], float(len(engine)))
        yield products
        encoder = InfoMetricFamily("tinyseek_encoder", "the query encoder")
        encoder.add_metric([], {"name": engine.encoder.name, "dim": str(engine.encoder.dim)})
        yield encoder
        batches = getattr(engine.encoder, "batches", None)
        encoded = getattr(engine.encoder, "encoded", None)
        if batches is not None and encoded is not None:  # a micro-batching encoder
            for name, value, help_text in (
                ("tinyseek_encoder_batches", batches, "query encoder calls (micro-batches)"),
                ("tinyseek_encoder_queries", encoded, "queries encoded in those calls"),
            ):
                counter = CounterMetricFamily(name, help_text)
                counter.add_metric([], float(value))
                yield counter
        cache = engine.cache
        lookups = cache.hits + cache.misses
        for name, value, help_text in (
            ("tinyseek_query_cache_hits", cache.hits, "query embedding cache hits"),
            ("tinyseek_query_cache_misses", cache.misses, "query embedding cache misses"),
            ("tinyseek_query_cache_size", len(cache), "query embeddings cached"),
            ("tinyseek_query_cache_capacity", cache.capacity, "query embedding cache capacity"),
            (
                "tinyseek_query_cache_hit_ratio",
                cache.hits / lookups if lookups else 0.0,
                "hits / lookups since start (0 when there were none)",
            ),
        ):
            gauge = GaugeMetricFamily(name, help_text)
            gauge.add_metric([], float(value))
            yield gauge


QUALITY_GAUGES = (
    ("ndcg_at_10", "ndcg@10", "nDCG@10"),
    ("f1_at_10", "f1@10", "F1@10"),
    ("recall_at_100", "recall@100", "Recall@100"),
    ("mrr_at_10", "mrr@10", "MRR@10"),
)


class QualityCollector(Collector):
    """The served generation's quality on the index's reference labels, at scrape time."""

    def __init__(self, monitor: QualityMonitor) -> None:
        self._monitor = monitor

    def collect(self) -> Iterator[Metric]:
        monitor = self._monitor
        for name, value, help_text in (
            ("tinyseek_quality_evaluations", monitor.evaluations, "scheduled re-evaluations run"),
            (
                "tinyseek_quality_rollbacks",
                monitor.rollbacks,
                "automatic rollbacks to a good build",
            ),
        ):
            counter = CounterMetricFamily(name, help_text)
            counter.add_metric([], float(value))
            yield counter
        served = monitor.served_report()
        if served is None:
            return
        labels, report = served
        size = GaugeMetricFamily(
            "tinyseek_quality_labels", "reference labels attached to the index", labels=["kind"]
        )
        size.add_metric(["queries"], float(len(labels.queries)))
        size.add_metric(["judgements"], float(sum(len(q.gains) for q in labels.queries)))
        size.add_metric(["sampled"], float(report.queries))
        yield size
        for suffix, metric, text in QUALITY_GAUGES:
            gauge = GaugeMetricFamily(
                f"tinyseek_quality_{suffix}",
                f"{text} of the served generation on the reference labels, by configuration",
                labels=["generation", "config"],
            )
            for config, values in report.configs.items():
                gauge.add_metric([report.generation, config], float(values.get(metric, "nan")))
            yield gauge
        revision = GaugeMetricFamily(
            "tinyseek_quality_revision",
            "the revision of the served generation the quality gauges were scored at",
            labels=["generation"],
        )
        revision.add_metric([report.generation], float(report.revision))
        yield revision
        alarm = GaugeMetricFamily(
            "tinyseek_quality_alarm",
            "1 while in-place writes keep the served generation's quality past the tolerance",
        )
        alarm.add_metric([], 1.0 if report.verdict == "alarm" else 0.0)
        yield alarm


class ServiceMetrics:
    """The service's own instruments, registered on a fresh registry."""

    def __init__(
        self,
        engine: Callable[[], Engine | None],
        refused: Callable[[], str | None] = lambda: None,
        pending_writes: Callable[[], int] = lambda: 0,
        quality: QualityMonitor | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tinyseek_http_requests",
            "HTTP requests by route template, method and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.search_latency = Histogram(
            "tinyseek_search_latency_seconds",
            "search request latency inside the server, by mode",
            ["mode"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.reloads = Counter(
            "tinyseek_index_reloads", "index generations switched to", registry=self.registry
        )
        self.reload_errors = Counter(
            "tinyseek_index_reload_errors",
            "failed attempts to load a new generation (the old one keeps serving)",
            registry=self.registry,
        )
        self.shed = Counter(
            "tinyseek_searches_shed",
            "searches answered 503 unrun: they waited past queue_timeout for a search thread",
            registry=self.registry,
        )
        self.writes = Counter(
            "tinyseek_document_writes",
            "documents upserted or deleted",
            ["op"],
            registry=self.registry,
        )
        self.registry.register(EngineCollector(engine, refused, pending_writes))
        if quality is not None:
            self.registry.register(QualityCollector(quality))
