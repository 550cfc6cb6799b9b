"""Quality: the index's reference labels, reports of a generation scored on them, and the
quality history.

    INDEX_DIR/quality/
      labels.json      the reference set (`tinyseek labels attach`): queries with graded
                       gains per product, the relevance threshold, the gate's tolerance and
                       sample size; one per index directory, whatever generation serves
      history.jsonl    every evaluation, appended: publish checks, in-place updates, the
                       service's re-evaluations, its rollbacks and alarms

A generation is scored by running the sampled reference queries through an `Engine` over
it in every configuration the index serves (modes hybrid, bm25 and dense, with the
index's fusion, spelling on), exactly as `tinyseek eval` does: top 100, nDCG@10, F1@10,
Recall@100 and MRR@10 from `tinyseek.search.relevance`.

The checks that act on these reports are in `tinyseek.indexer.guard`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tinyseek.search.layout import (
    current_generation,
    read_manifest,
)
from tinyseek.search.relevance import DEEP_K, evaluate_ranking, mean_metrics

if TYPE_CHECKING:
    from tinyseek.models.encoder import Encoder
    from tinyseek.search.engine import Engine

log = logging.getLogger(__name__)

QUALITY_DIR = "quality"
LABELS_FILE = "labels.json"
HISTORY_FILE = "history.jsonl"
LABELS_FORMAT = 1
MODES = ("hybrid", "bm25", "dense")
"""The configurations an index serves: each search mode with the index's own fusion."""
K = 10
REPORTED = (f"ndcg@{K}", f"f1@{K}", f"recall@{DEEP_K}", f"mrr@{K}")
GATED = (f"f1@{K}", f"ndcg@{K}")
DEFAULT_TOLERANCE = 0.03
RECENT = 200
"""History entries searched first for a generation's latest report (the whole file after)."""
DEFAULT_SAMPLE = 500
"""Reference queries scored per evaluation (a fixed sample; 0 = all of them)."""


class Verdict(str, Enum):
    ATTACHED = "attached"
    """Scored when the labels were attached: the first baseline."""
    PASSED = "passed"
    REFUSED = "refused"
    FORCED = "forced"
    """Fell past the tolerance and was published with --force."""
    ROLLBACK = "rollback"
    """Served again by a rollback (never refused: it is the way back)."""
    UPDATED = "updated"
    """Re-scored after in-place writes, within the tolerance of its publish report."""
    ALARM = "alarm"
    """In-place writes made it fall past the tolerance; they are kept."""
    REPLACED = "replaced"
    """A build worse than the last good one (forced, or never gated): the service rolled
    back to the last good build."""


GOOD_BUILDS = frozenset({Verdict.ATTACHED, Verdict.PASSED, Verdict.ROLLBACK})
"""Publish verdicts of a build the service may roll back to."""


# --------------------------------------------------------------------------- reference set


@dataclass(frozen=True)
class ReferenceQuery:
    query_id: str
    text: str
    gains: dict[str, float]
    """product id -> graded gain (0 = judged not relevant)."""


@dataclass(frozen=True)
class ReferenceSet:
    """The labelled queries an index is judged on, and how it is judged."""

    queries: tuple[ReferenceQuery, ...]
    relevance_threshold: float
    """Relevant for F1/P/R/MRR: gain >= this."""
    source: str = ""
    """Where the labels came from (file, method), for people."""
    tolerance: float = DEFAULT_TOLERANCE
    sample: int = DEFAULT_SAMPLE

    def __post_init__(self) -> None:
        if not self.queries:
            raise ValueError("a reference set needs at least one labelled query")
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance must be between 0 and 1, got {self.tolerance}")
        if self.sample < 0:
            raise ValueError(f"sample must be >= 0 (0 = every query), got {self.sample}")

    @property
    def digest(self) -> str:
        """Identifies the queries, their labels and the threshold (not the policy)."""
        body = {
            "threshold": self.relevance_threshold,
            "queries": [[q.query_id, q.text, sorted(q.gains.items())] for q in self.queries],
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def sampled(self) -> list[ReferenceQuery]:
        """The fixed sample every evaluation scores: the `sample` queries whose ids hash
        lowest (stable when labels are added), in id order."""
        if not self.sample or len(self.queries) <= self.sample:
            return sorted(self.queries, key=lambda q: q.query_id)
        ranked = sorted(self.queries, key=lambda q: hashlib.sha256(q.query_id.encode()).digest())
        return sorted(ranked[: self.sample], key=lambda q: q.query_id)

    def judged_ids(self) -> set[str]:
        return {pid for q in self.queries for pid in q.gains}

    def relevant(self, query: ReferenceQuery) -> set[str]:
        return {pid for pid, gain in query.gains.items() if gain >= self.relevance_threshold}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": LABELS_FORMAT,
            "digest": self.digest,
            "source": self.source,
            "relevance_threshold": self.relevance_threshold,
            "tolerance": self.tolerance,
            "sample": self.sample,
            "queries": [{"id": q.query_id, "text": q.text, "gains": q.gains} for q in self.queries],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReferenceSet:
        if data.get("format") != LABELS_FORMAT:
            raise ValueError(f"labels format {data.get('format')!r} is not {LABELS_FORMAT}")
        return cls(
            queries=tuple(
                ReferenceQuery(
                    str(q["id"]), str(q["text"]), {str(k): float(v) for k, v in q["gains"].items()}
                )
                for q in data["queries"]
            ),
            relevance_threshold=float(data["relevance_threshold"]),
            source=str(data.get("source", "")),
            tolerance=float(data.get("tolerance", DEFAULT_TOLERANCE)),
            sample=int(data.get("sample", DEFAULT_SAMPLE)),
        )


def labels_path(index_dir: Path) -> Path:
    return Path(index_dir) / QUALITY_DIR / LABELS_FILE


def load_labels(index_dir: str | Path) -> ReferenceSet | None:
    """The attached reference set, or None when the index has none."""
    path = labels_path(Path(index_dir))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ReferenceSet.from_json(data)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{path} is not a tinyseek reference set ({exc}); attach the labels again with "
            "`tinyseek labels attach INDEX_DIR FILE`"
        ) from None


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class Drop:
    """A gated metric of one configuration that fell by more than the tolerance."""

    config: str
    metric: str
    baseline: float
    current: float

    @property
    def relative_change(self) -> float:
        return (self.current - self.baseline) / self.baseline

    def __str__(self) -> str:
        return (
            f"{self.metric} of {self.config} fell {-self.relative_change:.1%} "
            f"({self.baseline:.4f} -> {self.current:.4f})"
        )


def find_drops(
    current: Mapping[str, Mapping[str, float | None]],
    baseline: Mapping[str, Mapping[str, float | None]],
    tolerance: float,
    metrics: Sequence[str] = GATED,
) -> list[Drop]:
    """Metrics of configurations present in both that fell by more than `tolerance`,
    relative to the baseline (a baseline of 0 or NaN is not judged; a missing current
    value is a drop)."""
    drops = []
    for config in (c for c in baseline if c in current):
        for metric in metrics:
            before = baseline[config].get(metric)
            after = current[config].get(metric)
            if before is None or math.isnan(before) or before <= 0:
                continue
            if after is None or math.isnan(after) or (before - after) / before > tolerance:
                drops.append(Drop(config, metric, before, math.nan if after is None else after))
    return drops


@dataclass(frozen=True)
class QualityReport:
    """One evaluation of one generation state on the reference set."""

    generation: str
    revision: int
    journal_seq: int
    labels: str
    """The reference set's digest."""
    queries: int
    configs: dict[str, dict[str, float]]
    """configuration (mode) -> metric -> mean over the sampled queries."""
    seconds: float
    at: str
    event: str = ""
    """What scored it: publish, rollback, attach, update, service."""
    verdict: str = ""
    baseline: str = ""
    """The state it was judged against (gen-NNNNNN@revision), if any."""
    drops: tuple[Drop, ...] = ()
    forced: bool = False
    per_query: dict[str, float] = field(default_factory=dict)
    """nDCG@10 of the default configuration by query id (names the queries that fell)."""

    def metric(self, name: str, config: str = MODES[0]) -> float:
        return float(self.configs.get(config, {}).get(name, math.nan))

    def to_json(self, per_query: bool = True) -> dict[str, Any]:
        data = asdict(self)
        data["drops"] = [asdict(d) for d in self.drops]
        if not per_query:
            del data["per_query"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QualityReport:
        return cls(
            generation=str(data["generation"]),
            revision=int(data["revision"]),
            journal_seq=int(data.get("journal_seq", 0)),
            labels=str(data.get("labels", "")),
            queries=int(data.get("queries", 0)),
            configs={  # in MODES order (the history sorts keys)
                str(c): {str(m): float(v) for m, v in data["configs"][c].items()}
                for c in sorted(data["configs"], key=_mode_order)
            },
            seconds=float(data.get("seconds", 0.0)),
            at=str(data.get("at", "")),
            event=str(data.get("event", "")),
            verdict=str(data.get("verdict", "")),
            baseline=str(data.get("baseline", "")),
            drops=tuple(Drop(**d) for d in data.get("drops", ())),
            forced=bool(data.get("forced", False)),
            per_query={str(k): float(v) for k, v in data.get("per_query", {}).items()},
        )

    def summary(self) -> str:
        """One line: the gated metrics of every configuration."""
        parts = [
            f"{config} nDCG@{K} {m.get(f'ndcg@{K}', math.nan):.4f} "
            f"F1@{K} {m.get(f'f1@{K}', math.nan):.4f}"
            for config, m in self.configs.items()
        ]
        return f"{self.generation}@{self.revision} on {self.queries} queries: " + "; ".join(parts)


def _mode_order(config: str) -> tuple[int, str]:
    return (MODES.index(config) if config in MODES else len(MODES), config)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def score_engine(
    engine: Engine,
    labels: ReferenceSet,
    modes: Sequence[str] = MODES,
    until: Callable[[str, Mapping[str, float]], bool] | None = None,
) -> QualityReport:
    """Score the engine's generation on the sampled reference queries (nothing is written).

    Each query runs through `Engine.search` (top 100, spelling on, the index's fusion), as
    `tinyseek eval` runs it; a query the engine rejects scores as an empty ranking. The
    configurations are scored in `modes` order; `until(config, metrics)` True stops after
    that one (the report then holds the configurations scored so far).
    """
    started = time.perf_counter()
    generation = engine.generation
    queries = labels.sampled()
    configs: dict[str, dict[str, float]] = {}
    per_query: dict[str, float] = {}
    for mode in modes:
        rows = []
        for query in queries:
            try:
                ranked = [h.doc_id for h in engine.search(query.text, k=DEEP_K, mode=mode)]
            except ValueError:
                ranked = []
            row = evaluate_ranking(ranked, query.gains, labels.relevance_threshold, k=K)
            rows.append(row)
            if mode == MODES[0]:
                per_query[query.query_id] = round(float(row[f"ndcg@{K}"] or 0.0), 4)
        means = mean_metrics(rows)
        configs[mode] = {name: round(means.get(name, math.nan), 6) for name in REPORTED}
        if until is not None and until(mode, configs[mode]):
            break
    configs = {c: configs[c] for c in sorted(configs, key=_mode_order)}
    return QualityReport(
        generation=generation.name,
        revision=generation.revision,
        journal_seq=generation.journal_seq,
        labels=labels.digest,
        queries=len(queries),
        configs=configs,
        seconds=round(time.perf_counter() - started, 3),
        at=now(),
        per_query=per_query,
    )


def score_generation(
    index_dir: Path, gen_dir: Path, labels: ReferenceSet, encoder: Encoder | None = None
) -> QualityReport:
    """Score a generation on disk (published or not) with its own encoder by default."""
    with scoring_engine(index_dir, gen_dir, labels, encoder) as engine:
        return score_engine(engine, labels)


@contextlib.contextmanager
def scoring_engine(
    index_dir: Path, gen_dir: Path, labels: ReferenceSet, encoder: Encoder | None = None
) -> Iterator[Engine]:
    """An `Engine` over a generation on disk (published or not, loaded and verified apart
    from any served one), with `encoder` when it is the generation's, else its own."""
    from tinyseek.search.engine import Engine, encoder_for, load_generation

    generation = load_generation(gen_dir)
    try:
        if encoder is None or encoder.name != generation.manifest["encoder"]["name"]:
            encoder = encoder_for(gen_dir, generation.manifest, None)
        # Queries repeat across modes: the cache encodes each once.
        yield Engine(index_dir, generation, encoder, cache_size=len(labels.queries) + 1)
    finally:
        generation.store.close()
        if generation.copies is not None:
            generation.copies.close()


# --------------------------------------------------------------------------- history


def history_path(index_dir: Path) -> Path:
    return Path(index_dir) / QUALITY_DIR / HISTORY_FILE


def append_history(index_dir: Path, entry: Mapping[str, Any]) -> None:
    """Append one JSON line (one write: concurrent appenders never interleave a line)."""
    path = history_path(index_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_history(index_dir: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """History entries, oldest first (only the last `limit`, read from the end of the file);
    a torn or damaged line is skipped."""
    try:
        with history_path(Path(index_dir)).open("rb") as fh:
            lines = _tail_lines(fh, limit)
    except FileNotFoundError:
        return []
    entries = []
    for raw in lines:
        with contextlib.suppress(ValueError):
            entry = json.loads(raw)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def _tail_lines(fh: BinaryIO, limit: int | None, block: int = 1 << 16) -> list[bytes]:
    """The last `limit` lines of a file (all of them when None)."""
    if limit is None:
        return fh.read().splitlines()
    end = fh.seek(0, os.SEEK_END)
    data = b""
    while end > 0 and data.count(b"\n") <= limit:
        start = max(0, end - block)
        fh.seek(start)
        data = fh.read(end - start) + data
        end = start
    lines = data.splitlines()
    if end > 0:
        lines = lines[1:]  # the first one is cut
    return lines[-limit:] if limit else []


def record(
    index_dir: Path,
    report: QualityReport,
    publish_report_of: Path | None = None,
    latest_report_of: Path | None = None,
) -> None:
    """Append the report to the history; with `publish_report_of`, also store it in that
    generation's manifest as its publish report (`quality`), with `latest_report_of` as its
    report after in-place writes (`quality_latest`). The caller holds the writer lock."""
    for gen_dir, key in ((publish_report_of, "quality"), (latest_report_of, "quality_latest")):
        if gen_dir is not None:
            from tinyseek.indexer.generations import write_manifest

            manifest = read_manifest(gen_dir)
            manifest[key] = report.to_json(per_query=key == "quality")
            write_manifest(gen_dir, manifest)
    append_history(index_dir, {"kind": "report", **report.to_json(per_query=False)})


def publish_report(gen_dir: Path) -> QualityReport | None:
    """The report a generation was published (or attached, or rolled back to) with."""
    data = read_manifest(gen_dir).get("quality")
    return QualityReport.from_json(data) if isinstance(data, dict) else None


def latest_report(index_dir: Path, generation: str, labels: ReferenceSet) -> QualityReport | None:
    """The newest history report of a generation on these labels (any revision)."""
    recent = read_history(index_dir, limit=RECENT)
    older = read_history(index_dir) if len(recent) >= RECENT else []
    for entry in [*reversed(recent), *reversed(older[: -len(recent)] if older else [])]:
        if (
            entry.get("kind") == "report"
            and entry.get("generation") == generation
            and entry.get("labels") == labels.digest
            and entry.get("queries") == len(labels.sampled())
        ):
            return QualityReport.from_json(entry)
    return None


# --------------------------------------------------------------------------- attaching


@dataclass(frozen=True)
class Attached:
    labels: ReferenceSet
    """What was stored: the judgements of products the catalog holds."""
    unknown: tuple[str, ...]
    """Judged product ids the served catalog does not hold (left out)."""
    dropped_queries: int
    """Queries left without any judgement of a known product (left out)."""
    report: QualityReport


def attach_labels(
    index_dir: str | Path, labels: ReferenceSet, lock_wait: float | None = None
) -> Attached:
    """Store `labels` with the index (validated against the served catalog: judgements of
    unknown product ids are left out and reported), then score the served generation on
    them: its report, recorded as `attached`, is the first baseline. Refuses labels whose
    product ids are mostly unknown (a wrong id column or a wrong index)."""
    from tinyseek.indexer.generations import write_atomic
    from tinyseek.indexer.lock import WriterLock
    from tinyseek.search.layout import DOCS_FILE
    from tinyseek.search.store import DocStore

    index_dir = Path(index_dir)
    with WriterLock(index_dir, timeout=lock_wait):
        gen_dir = current_generation(index_dir)
        judged = labels.judged_ids()
        store = DocStore(gen_dir / DOCS_FILE)
        try:
            unknown = sorted(pid for pid in judged if store.ordinal_of(pid) is None)
        finally:
            store.close()
        if len(unknown) * 2 > len(judged):
            raise ValueError(
                f"{len(unknown)} of the {len(judged)} judged product ids are not in the "
                f"catalog of {index_dir} (e.g. {', '.join(unknown[:3])}): wrong id column, or "
                "labels of another catalog? Nothing was attached"
            )
        missing = set(unknown)
        queries = []
        for query in labels.queries:
            gains = {pid: g for pid, g in query.gains.items() if pid not in missing}
            if gains:
                queries.append(replace(query, gains=gains))
        kept = replace(labels, queries=tuple(queries))
        path = labels_path(index_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(kept.to_json(), ensure_ascii=False) + "\n"
        write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        report = score_generation(index_dir, gen_dir, kept)
        report = replace(report, event="attach", verdict=Verdict.ATTACHED.value)
        record(index_dir, report, publish_report_of=gen_dir)
    return Attached(kept, tuple(unknown), len(labels.queries) - len(queries), report)


def detach_labels(index_dir: str | Path, lock_wait: float | None = None) -> bool:
    """Remove the index's reference labels (the history stays); False if it had none."""
    from tinyseek.indexer.lock import WriterLock

    index_dir = Path(index_dir)
    with WriterLock(index_dir, timeout=lock_wait):
        path = labels_path(index_dir)
        if not path.is_file():
            return False
        path.unlink()
        append_history(index_dir, {"kind": "detach", "at": now()})
    return True
