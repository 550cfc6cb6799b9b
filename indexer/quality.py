"""Quality guard: the index's reference labels, scoring a generation on them, and the check
every publish passes.

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

`check_before_publish` runs inside `indexer.writer.publish_with_writes`, after the
candidate holds every acknowledged write and before CURRENT names it: F1@10 or nDCG@10 of
any configuration falling by more than the tolerance (relative) against the served
generation refuses the publish (QualityRefusedError, exit code 9) unless forced; the
report goes into the candidate's manifest (`quality`) and the history either way.

In-place writes (`tinyseek update`, the API) are the shop's own data: they are never
refused. `check_in_place` re-scores the served generation after an update that touched a
judged product or changed at least `CHANGE_SHARE` of the live products, and raises the
alarm when it fell past the tolerance against its publish-time report.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyseek.errors import EXIT_QUALITY_REFUSED
from tinyseek.search.layout import (
    current_generation,
    list_generations,
    read_manifest,
    served_generation_name,
)
from tinyseek.search.relevance import DEEP_K, evaluate_ranking, mean_metrics

if TYPE_CHECKING:
    from tinyseek.indexer.journal import Journal
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
DEFAULT_SAMPLE = 500
"""Reference queries scored per evaluation (a fixed sample; 0 = all of them)."""
CHANGE_SHARE = 0.01
"""An in-place update is re-scored when it touched a judged product or this share of the
live products."""


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


class QualityRefusedError(RuntimeError):
    """Publishing was refused: the candidate scored worse than the served generation."""

    exit_code = EXIT_QUALITY_REFUSED


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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def score_engine(
    engine: Engine, labels: ReferenceSet, modes: Sequence[str] = MODES
) -> QualityReport:
    """Score the engine's generation on the sampled reference queries (nothing is written).

    Each query runs through `Engine.search` (top 100, spelling on, the index's fusion), as
    `tinyseek eval` runs it; a query the engine rejects scores as an empty ranking.
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
            if mode == modes[0]:
                per_query[query.query_id] = round(float(row[f"ndcg@{K}"] or 0.0), 4)
        means = mean_metrics(rows)
        configs[mode] = {name: round(means.get(name, math.nan), 6) for name in REPORTED}
    return QualityReport(
        generation=generation.name,
        revision=generation.revision,
        journal_seq=generation.journal_seq,
        labels=labels.digest,
        queries=len(queries),
        configs=configs,
        seconds=round(time.perf_counter() - started, 3),
        at=_now(),
        per_query=per_query,
    )


def score_generation(
    index_dir: Path, gen_dir: Path, labels: ReferenceSet, encoder: Encoder | None = None
) -> QualityReport:
    """Score a generation on disk (published or not) with its own encoder by default."""
    from tinyseek.search.engine import Engine, encoder_for, load_generation

    generation = load_generation(gen_dir)
    try:
        if encoder is None or encoder.name != generation.manifest["encoder"]["name"]:
            encoder = encoder_for(gen_dir, generation.manifest, None)
        # Queries repeat across modes: the cache encodes each once.
        engine = Engine(index_dir, generation, encoder, cache_size=len(labels.queries) + 1)
        return score_engine(engine, labels)
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
    """History entries, oldest first (the last `limit`); a torn or damaged line is skipped."""
    try:
        lines = history_path(Path(index_dir)).read_bytes().splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for raw in lines[-limit:] if limit else lines:
        with contextlib.suppress(ValueError):
            entry = json.loads(raw)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def record(index_dir: Path, report: QualityReport, publish_report_of: Path | None = None) -> None:
    """Append the report to the history; with `publish_report_of`, also store it in that
    generation's manifest as its publish report (the caller holds the writer lock)."""
    if publish_report_of is not None:
        from tinyseek.indexer.generations import write_manifest

        manifest = read_manifest(publish_report_of)
        manifest["quality"] = report.to_json()
        write_manifest(publish_report_of, manifest)
    append_history(index_dir, {"kind": "report", **report.to_json(per_query=False)})


def publish_report(gen_dir: Path) -> QualityReport | None:
    """The report a generation was published (or attached, or rolled back to) with."""
    data = read_manifest(gen_dir).get("quality")
    return QualityReport.from_json(data) if isinstance(data, dict) else None


def latest_report(index_dir: Path, generation: str, labels: ReferenceSet) -> QualityReport | None:
    """The newest history report of a generation on these labels (any revision)."""
    for entry in reversed(read_history(index_dir)):
        if (
            entry.get("kind") == "report"
            and entry.get("generation") == generation
            and entry.get("labels") == labels.digest
            and entry.get("queries") == len(labels.sampled())
        ):
            return QualityReport.from_json(entry)
    return None


# --------------------------------------------------------------------------- the checks


def check_before_publish(
    index_dir: Path,
    candidate: Path,
    encoder: Encoder | None,
    *,
    force: bool = False,
    event: str = "publish",
) -> QualityReport | None:
    """Score `candidate` before it is served and judge it against the served generation.

    None when the index has no labels. Raises QualityRefusedError (the report recorded
    as refused) when F1@10 or nDCG@10 of a configuration fell by more than the
    tolerance, unless `force`. A rollback (`event="rollback"`) is scored and recorded,
    never refused. The caller holds the writer lock.
    """
    labels = load_labels(index_dir)
    if labels is None:
        return None
    started = time.perf_counter()
    report = score_generation(index_dir, candidate, labels, encoder)
    served_name = served_generation_name(index_dir)
    baseline: QualityReport | None = None
    if served_name and served_name != candidate.name and (index_dir / served_name).is_dir():
        try:
            baseline = _current_report(index_dir, current_generation(index_dir), labels)
        except Exception as exc:  # a damaged served generation must not block its repair
            baseline = latest_report(index_dir, served_name, labels)
            log.warning(
                "could not score the served %s (%s); judging against %s",
                served_name,
                exc,
                "its last report" if baseline else "nothing: no report of it was recorded",
            )
    drops = find_drops(report.configs, baseline.configs, labels.tolerance) if baseline else []
    if event == "rollback":
        verdict = Verdict.ROLLBACK
    elif not drops:
        verdict = Verdict.PASSED
    else:
        verdict = Verdict.FORCED if force else Verdict.REFUSED
    report = replace(
        report,
        event=event,
        verdict=verdict.value,
        baseline="" if baseline is None else f"{baseline.generation}@{baseline.revision}",
        drops=tuple(drops),
        forced=verdict is Verdict.FORCED,
    )
    record(index_dir, report, publish_report_of=candidate)
    if verdict is Verdict.REFUSED:
        assert baseline is not None  # drops need one
        reasons = "; ".join(str(d) for d in drops)
        raise QualityRefusedError(
            f"refused to publish {candidate.name}: {reasons} against the served "
            f"{baseline.generation} (tolerance {labels.tolerance:.0%}, {report.queries} "
            f"reference queries); {served_name} keeps serving. Pass --force to publish it "
            "anyway (recorded as forced)"
        )
    if verdict is Verdict.FORCED:
        log.warning(
            "publishing %s although %s (--force; recorded)",
            candidate.name,
            "; ".join(str(d) for d in drops),
        )
    log.info(
        "quality %s: %s (check %.1f s; %s)",
        verdict.value,
        report.summary(),
        time.perf_counter() - started,
        "nothing served to compare with"
        if baseline is None
        else "the served generation scored too"
        if baseline.event == "baseline"
        else f"the served generation's {baseline.event} report at its revision reused",
    )
    return report


def _current_report(index_dir: Path, gen_dir: Path, labels: ReferenceSet) -> QualityReport:
    """The served generation's report at its current state: from the history when one was
    made at this revision on these labels, else scored now."""
    from tinyseek.search.store import DocStore

    store = DocStore(gen_dir / "docs.sqlite")
    try:
        revision = store.revision()
    finally:
        store.close()
    known = latest_report(index_dir, gen_dir.name, labels)
    if known is not None and revision is not None and known.revision == revision:
        return known
    report = replace(score_generation(index_dir, gen_dir, labels), event="baseline")
    append_history(index_dir, {"kind": "report", **report.to_json(per_query=False)})
    return report


@dataclass(frozen=True)
class Alarm:
    """In-place writes made the served generation fall past the tolerance."""

    generation: str
    drops: tuple[Drop, ...]
    lost: dict[str, list[str]]
    """Query text -> its relevant products no longer in the catalog."""
    fell: dict[str, tuple[float, float]]
    """Query text -> nDCG@10 (publish, now), for the queries that fell most."""

    def message(self) -> str:
        parts = [f"quality of {self.generation} fell after in-place writes: "]
        parts.append("; ".join(str(d) for d in self.drops))
        if self.lost:
            named = ", ".join(
                f"{q!r} lost {len(ids)} ({', '.join(ids[:3])}{'...' if len(ids) > 3 else ''})"
                for q, ids in list(self.lost.items())[:10]
            )
            more = f" and {len(self.lost) - 10} more" if len(self.lost) > 10 else ""
            parts.append(f". Queries whose relevant products are gone: {named}{more}")
        if self.fell:
            named = ", ".join(f"{q!r} {a:.2f}->{b:.2f}" for q, (a, b) in self.fell.items())
            parts.append(f". Fell most (nDCG@{K}): {named}")
        parts.append(". The writes are kept (they are the shop's data); look at them")
        return "".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "drops": [asdict(d) for d in self.drops],
            "lost": self.lost,
            "fell": {q: list(v) for q, v in self.fell.items()},
        }


def lost_relevant(labels: ReferenceSet, is_live: Callable[[str], bool]) -> dict[str, list[str]]:
    """Queries whose relevant products are no longer live (`is_live(id) -> bool`)."""
    lost: dict[str, list[str]] = {}
    for query in labels.queries:
        gone = sorted(pid for pid in labels.relevant(query) if not is_live(pid))
        if gone:
            lost[query.text] = gone
    return lost


def alarm_for(
    report: QualityReport,
    publish: QualityReport | None,
    labels: ReferenceSet,
    is_live: Callable[[str], bool],
    fell_most: int = 5,
) -> Alarm | None:
    """An Alarm when `report` fell past the tolerance against the generation's publish
    report, naming the queries that lost relevant products and those that fell most."""
    if publish is None:
        return None
    drops = find_drops(report.configs, publish.configs, labels.tolerance)
    if not drops:
        return None
    text = {q.query_id: q.text for q in labels.queries}
    fell = sorted(
        (
            (publish.per_query[qid] - now, qid)
            for qid, now in report.per_query.items()
            if qid in publish.per_query and publish.per_query[qid] > now
        ),
        reverse=True,
    )[:fell_most]
    return Alarm(
        generation=report.generation,
        drops=tuple(drops),
        lost=lost_relevant(labels, is_live),
        fell={text.get(q, q): (publish.per_query[q], report.per_query[q]) for _, q in fell},
    )


@dataclass(frozen=True)
class InPlaceCheck:
    report: QualityReport | None
    """None when the change was below the threshold (not re-scored)."""
    alarm: Alarm | None
    reason: str
    """Why it was (or was not) re-scored."""


def changed_since(journal: Journal, seq: int) -> set[str] | None:
    """Ids written after journal record `seq`; None when the journal no longer has them."""
    trimmed, _ = journal.trimmed()
    if seq < trimmed:
        return None
    return {pid for record in journal.records(after=seq) for pid, _ in record.ops}


def check_in_place(
    index_dir: Path, encoder: Encoder | None = None, force_score: bool = False
) -> InPlaceCheck | None:
    """After in-place writes to the served generation: re-score it when the writes since
    its last report touched a judged product or at least CHANGE_SHARE of its live
    products, record the report, and return the Alarm if it fell past the tolerance
    against its publish report. None when the index has no labels. The caller holds the
    writer lock."""
    from tinyseek.indexer.journal import Journal
    from tinyseek.search.store import DocStore

    labels = load_labels(index_dir)
    if labels is None:
        return None
    gen_dir = current_generation(index_dir)
    last = latest_report(index_dir, gen_dir.name, labels)
    store = DocStore(gen_dir / "docs.sqlite")
    try:
        live = store.live_count()
        changed = None if last is None else changed_since(Journal(index_dir), last.journal_seq)
        judged = set() if changed is None else changed & labels.judged_ids()
        threshold = max(1, math.ceil(CHANGE_SHARE * live))
        if not force_score and changed is not None and not judged and len(changed) < threshold:
            return InPlaceCheck(
                None,
                None,
                f"not re-scored: {len(changed)} products changed since the last report, none "
                f"of them judged (threshold {threshold}, {CHANGE_SHARE:.0%} of {live})",
            )
        reason = (
            "no earlier report of this generation"
            if changed is None
            else f"{len(changed)} products changed, {len(judged)} of them judged"
        )
        report = replace(score_generation(index_dir, gen_dir, labels, encoder), event="update")
        judged_report = judge_served(
            index_dir, labels, report, publish_report(gen_dir), store.ordinal_of, False
        )
    finally:
        store.close()
    report, alarm = judged_report.report, judged_report.alarm
    record(index_dir, report)
    if alarm is not None:
        log.warning("%s", alarm.message())
        append_history(index_dir, {"kind": "alarm", "at": _now(), **alarm.to_json()})
    return InPlaceCheck(report, alarm, reason)


@dataclass(frozen=True)
class Judged:
    report: QualityReport
    """With its verdict (updated, alarm or replaced) and drops."""
    alarm: Alarm | None = None
    rollback_to: Path | None = None
    """The last good build, when the served build itself is the cause of a drop."""


def judge_served(
    index_dir: Path,
    labels: ReferenceSet,
    report: QualityReport,
    publish: QualityReport | None,
    ordinal_of: Callable[[str], int | None],
    consider_build: bool = True,
) -> Judged:
    """Judge a fresh report of the served generation and say where a drop comes from.

    A build (a new catalog, encoder or fusion) that was forced past the check, or never
    checked, and scores below the last good build's publish report by more than the
    tolerance is the cause: roll back to that build (only judged with `consider_build`).
    Otherwise a fall past the tolerance against the generation's own publish report
    comes from in-place writes: the alarm.
    """
    good = last_good_build(index_dir, before=report.generation) if consider_build else None
    suspect = publish is None or publish.verdict not in {v.value for v in GOOD_BUILDS}
    if suspect and good is not None:
        drops = find_drops(report.configs, good[1].configs, labels.tolerance)
        if drops:
            verdict = replace(
                report,
                verdict=Verdict.REPLACED.value,
                baseline=f"{good[1].generation}@{good[1].revision}",
                drops=tuple(drops),
            )
            return Judged(verdict, rollback_to=good[0])
    alarm = alarm_for(report, publish, labels, lambda pid: ordinal_of(pid) is not None)
    verdict = replace(
        report,
        verdict=(Verdict.ALARM if alarm else Verdict.UPDATED).value,
        baseline="" if publish is None else f"{publish.generation}@{publish.revision}",
        drops=() if alarm is None else alarm.drops,
    )
    return Judged(verdict, alarm)


def last_good_build(index_dir: Path, before: str) -> tuple[Path, QualityReport] | None:
    """The newest generation older than `before` published as a good build (attached,
    passed or rolled back to), with its publish report."""
    for gen in reversed(list_generations(index_dir)):
        if gen.name >= before:
            continue
        try:
            report = publish_report(gen)
        except Exception:  # a damaged generation is no rollback target
            continue
        if report is not None and report.verdict in {v.value for v in GOOD_BUILDS}:
            return gen, report
    return None


def is_refused(gen_dir: Path) -> bool:
    """Whether the generation's publish was refused (it was never served)."""
    try:
        report = publish_report(gen_dir)
    except Exception:
        return False
    return report is not None and report.verdict == Verdict.REFUSED.value


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
        append_history(index_dir, {"kind": "detach", "at": _now()})
    return True
