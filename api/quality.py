"""The service's quality: the served generation's report on the index's reference labels,
a scheduled re-evaluation, automatic rollback of a bad build and the alarm for writes.

Every `interval` seconds (the `quality_interval` setting; 0 = never) the served
generation is scored again when its state changed since the last run (a new generation
or revision, new labels), with the serving engine's generation and encoder, exactly as
the publish check and `tinyseek eval INDEX_DIR` score it. The report is judged by
`indexer.quality.judge_served`:

- the served build was forced past the publish check (or never checked) and scores below
  the last good build by more than the tolerance: the service rolls back to that build
  (`indexer.generations.rollback`, which replays every write acknowledged since onto it)
  and serves it; the generation switch is the one every reload makes, so no request fails;
- the served build was good and fell past the tolerance against its own publish report:
  in-place writes did it; they are kept, and the alarm is raised (a gauge, `/quality`, a
  WARNING naming the queries that lost their relevant products).

Either way the history (`INDEX_DIR/quality/history.jsonl`), the log and `/metrics` say
what happened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tinyseek.errors import describe
from tinyseek.indexer.guard import judge_served, last_good_build
from tinyseek.indexer.quality import (
    QualityReport,
    ReferenceSet,
    append_history,
    history_path,
    labels_path,
    latest_report,
    load_labels,
    now,
    publish_report,
    read_history,
    score_engine,
)
from tinyseek.search.engine import Engine

log = logging.getLogger(__name__)
HISTORY_SHOWN = 50


class QualityMonitor:
    """Scores the served generation on the index's labels and acts on what it finds."""

    def __init__(
        self,
        index_dir: Path,
        engine: Callable[[], Engine | None],
        interval: float = 0.0,
        lock_wait: float = 10.0,
    ) -> None:
        self.index_dir = Path(index_dir)
        self._engine = engine
        self.interval = interval
        self.lock_wait = lock_wait
        self.evaluations = 0
        self.rollbacks = 0
        self.last_error: str | None = None
        self._last_key: tuple[str, int, str] | None = None
        self._lock = threading.Lock()
        self._labels: tuple[tuple[int, int, int], ReferenceSet] | None = None
        self._report: tuple[tuple[object, ...], QualityReport | None] | None = None

    # ------------------------------------------------------------------ reading the state
    def labels(self) -> ReferenceSet | None:
        """The attached labels (parsed again only when the file changed)."""
        path = labels_path(self.index_dir)
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if self._labels is None or self._labels[0] != stamp:
            try:
                labels = load_labels(self.index_dir)
            except ValueError as exc:  # damaged: said in /quality, the gauges go
                self.last_error = str(exc)
                return None
            if labels is None:
                return None
            self._labels = (stamp, labels)
        return self._labels[1]

    def served_report(self) -> tuple[ReferenceSet, QualityReport] | None:
        """The newest report of the served generation on the attached labels (from the
        history: publish checks, updates and this service's runs), if any."""
        engine = self._engine()
        labels = self.labels()
        if engine is None or labels is None:
            return None
        gen = engine.generation
        try:
            info = history_path(self.index_dir).stat()
            stamp: tuple[object, ...] = (info.st_mtime_ns, info.st_size, gen.name, labels.digest)
        except FileNotFoundError:
            stamp = (None, gen.name, labels.digest)
        if self._report is None or self._report[0] != stamp:
            report = latest_report(self.index_dir, gen.name, labels) or publish_report(gen.path)
            self._report = (stamp, report)
        report = self._report[1]
        return None if report is None else (labels, report)

    def state(self) -> dict[str, Any]:
        """The body of /quality."""
        engine = self._engine()
        labels = self.labels()
        history = read_history(self.index_dir, limit=4 * HISTORY_SHOWN)
        served = self.served_report()
        report = None if served is None else served[1]
        gen = None if engine is None else engine.generation
        good = None if gen is None else last_good_build(self.index_dir, before=gen.name)
        alarm = None
        if gen is not None and report is not None and report.verdict == "alarm":
            alarm = next(
                (
                    e
                    for e in reversed(history)
                    if e.get("kind") == "alarm" and e.get("generation") == gen.name
                ),
                None,
            )
        return {
            "labels": None if labels is None else _labels_summary(labels),
            "served": None
            if gen is None
            else {
                "generation": gen.name,
                "revision": gen.revision,
                "report": None if report is None else report.to_json(per_query=False),
            },
            "alarm": alarm,
            "last_good_build": None if good is None else good[0].name,
            "interval_seconds": self.interval,
            "evaluations": self.evaluations,
            "rollbacks": self.rollbacks,
            "last_error": self.last_error,
            "actions": [e for e in history if e.get("kind") in ("rollback", "alarm")][
                -HISTORY_SHOWN:
            ],
            "history": [e for e in history if e.get("kind") == "report"][-HISTORY_SHOWN:],
        }

    # ------------------------------------------------------------------ the schedule
    def run(self, stop: threading.Event) -> None:
        """Evaluate every `interval` seconds until `stop` is set."""
        while not stop.wait(self.interval):
            try:
                self.evaluate()
                self.last_error = None
            except Exception as exc:  # the next run tries again
                message = describe(exc)
                if message != self.last_error:
                    log.error("quality evaluation failed (will retry): %s", message)
                self.last_error = message

    def evaluate(self, force: bool = False) -> QualityReport | None:
        """Score the served generation if its state changed (or `force`), then act: roll
        back a bad build, or raise the alarm. Returns the report, None when skipped."""
        with self._lock:
            engine = self._engine()
            labels = self.labels()
            if engine is None or labels is None:
                return None
            gen = engine.generation
            key = (gen.name, gen.revision, labels.digest)
            if key == self._last_key and not force:
                return None
            encoder = getattr(engine.encoder, "inner", None) or engine.encoder
            scorer = Engine(self.index_dir, gen, encoder, cache_size=len(labels.queries) + 1)
            report = replace(score_engine(scorer, labels), event="service")
            self.evaluations += 1
            judged = judge_served(
                self.index_dir,
                labels,
                report,
                publish_report(gen.path),
                gen.store.ordinal_of,
            )
            report = judged.report
            append_history(self.index_dir, {"kind": "report", **report.to_json(per_query=False)})
            if judged.rollback_to is not None:
                self._roll_back(engine, report, judged.rollback_to)
            elif judged.alarm is not None:
                log.warning("%s", judged.alarm.message())
                append_history(
                    self.index_dir, {"kind": "alarm", "at": report.at, **judged.alarm.to_json()}
                )
            else:
                log.info("quality %s", report.summary())
            self._last_key = key
            return report

    def _roll_back(self, engine: Engine, report: QualityReport, target: Path) -> None:
        from tinyseek.indexer.generations import rollback

        why = "; ".join(str(d) for d in report.drops)
        log.warning(
            "the served build %s scores below the last good build %s (%s): rolling back to "
            "it, with every write acknowledged since replayed onto it",
            report.generation,
            target.name,
            why,
        )
        started = time.perf_counter()
        before, after = rollback(self.index_dir, to=target.name, lock_wait=self.lock_wait)
        engine.reload_if_changed()
        append_history(
            self.index_dir,
            {
                "kind": "rollback",
                "at": now(),
                "from": f"{report.generation}@{report.revision}",
                "to": after,
                "why": why,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        self.rollbacks += 1
        log.warning("rolled back from %s to %s; now serving %s", before, after, after)


def _labels_summary(labels: ReferenceSet) -> dict[str, Any]:
    return {
        "digest": labels.digest,
        "source": labels.source,
        "queries": len(labels.queries),
        "judgements": sum(len(q.gains) for q in labels.queries),
        "sampled": len(labels.sampled()),
        "relevance_threshold": labels.relevance_threshold,
        "tolerance": labels.tolerance,
    }
