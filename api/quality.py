"""The service's quality: the served generation's report on the index's reference labels,
a check of every suspect build before it serves, a scheduled re-evaluation, automatic
rollback of a bad build and the alarm for writes.

**A suspect build is checked before it serves.** A build forced past the publish check
(`--force`), or published without it, is the one kind the service may have to roll back.
With the guard on (`quality_interval` > 0) and labels attached, the engine does not switch
to such a build when CURRENT names it (`Engine.admit`): the generation it serves keeps
answering, and the monitor is woken to score the build at once, not at the next tick
(`indexer.guard.score_and_judge`: the configuration likeliest to fail first, stopping at
the first that falls past the tolerance against the last good build). Then either

- it fell: the service rolls back to the last good build (`indexer.generations.rollback`,
  only while the build is still the published one; every write acknowledged meanwhile is
  replayed onto the good build, which this service already serves at an older revision,
  so serving the writes is an in-place reload). The bad build never answered a search
  here, and the rollback is recorded with `served: false`;
- or it held up: it is let through, and the engine switches to it as to any generation.

Writes acknowledged while the build is checked are journaled (durable) and applied to the
published build as usual; they are answered `pending: true` and become searchable once the
service serves the build or the rollback has replayed them. The check costs one
configuration's scoring on the fixed sample when the build is bad (that is the time the
writes wait), all of them when it is good. Why this rather than scoring a build once it
serves: the bound on how long a bad build answers then no longer depends on the interval,
the sample size or the machine; it is zero. Good builds (passed, attached, rolled back to)
and in-place updates switch at once, as before. A service started on a suspect build
(nothing else to serve) scores it at its first scheduled run, as below.

**The schedule.** Every `interval` seconds (the `quality_interval` setting; 0 = never)
the served generation is scored again when its state changed since the last run (a new
generation or revision, new labels), with the serving engine's generation and encoder,
exactly as the publish check and `tinyseek eval INDEX_DIR` score it. The report is
judged by `indexer.guard.judge_served`:

- the served build was forced past the publish check (or never checked) and scores below
  the last good build by more than the tolerance: the service rolls back to that build
  and serves it; the generation switch is the one every reload makes, so no request fails;
- the served build was good and fell past the tolerance against its own publish report:
  in-place writes did it; they are kept, and the alarm is raised (a gauge, `/quality`, a
  WARNING naming the queries that lost their relevant products).

Either way the history (`INDEX_DIR/quality/history.jsonl`), the log, `/quality` and
`/metrics` say what happened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinyseek.errors import describe
from tinyseek.indexer.guard import (
    Judged,
    is_suspect,
    last_good_build,
    record_rollback,
    score_and_judge,
)
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
    scoring_engine,
)
from tinyseek.models.encoder import Encoder
from tinyseek.search.engine import Engine
from tinyseek.search.layout import served_generation_name

log = logging.getLogger(__name__)
HISTORY_SHOWN = 50
RETRY_SECONDS = 1.0
"""How soon a failed rollback of a held build is tried again."""


class QualityMonitor:
    """Scores the served generation on the index's labels and acts on what it finds."""

    def __init__(
        self,
        index_dir: Path,
        engine: Callable[[], Engine | None],
        interval: float = 0.0,
        lock_wait: float = 10.0,
        reload: Callable[[], object] | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self._engine = engine
        self.interval = interval
        self.lock_wait = lock_wait
        self._reload = reload or self._reload_engine
        """Serves what CURRENT names now (the service's reload: metrics, warm-up)."""
        self._wake = threading.Event()
        self._held_lock = threading.Lock()
        self._held: str | None = None
        """A published suspect build the engine does not switch to until it is checked."""
        self._passed: set[str] = set()
        """Suspect builds checked and let through."""
        self._judged: tuple[str, Judged] | None = None
        """A held build found bad, while its rollback is (re)tried."""
        self.evaluations = 0
        self.rollbacks = 0
        self.last_error: str | None = None
        self._last_key: tuple[str, int, str] | None = None
        self._lock = threading.Lock()
        self._labels: tuple[tuple[int, int, int], ReferenceSet] | None = None
        self._report: tuple[tuple[object, ...], QualityReport | None] | None = None

    # ------------------------------------------------------------------ holding a build
    def admit(self, gen_dir: Path) -> bool:
        """`Engine.admit`: whether the engine may switch to the newly published `gen_dir`.

        A suspect build (forced past the publish check, or never checked) is held while the
        guard is on and labels are attached, and the schedule is woken to check it now.
        """
        name = gen_dir.name
        if self.interval <= 0 or name in self._passed:
            return True
        with self._held_lock:
            if name == self._held:
                return False
            try:
                publish = publish_report(gen_dir)
            except Exception:  # a damaged manifest: loading it says what is wrong
                return True
            if not is_suspect(publish) or self.labels() is None:
                return True
            self._held = name
        log.warning(
            "%s was published as a %s build: checking it on the reference labels before "
            "serving it (the served %s keeps answering)",
            name,
            "never checked" if publish is None else publish.verdict,
            self._served_name(),
        )
        self._wake.set()
        return False

    def wake(self) -> None:
        self._wake.set()

    def _release(self, name: str, passed: bool) -> None:
        with self._held_lock:
            if passed:
                self._passed.add(name)
            if self._held == name:
                self._held = None

    def _served_name(self) -> str:
        engine = self._engine()
        return "-" if engine is None else engine.generation.name

    def _encoder(self) -> Encoder | None:
        engine = self._engine()
        if engine is None:
            return None
        inner: Encoder | None = getattr(engine.encoder, "inner", None)  # micro-batching
        return inner or engine.encoder

    def _reload_engine(self) -> None:
        engine = self._engine()
        if engine is not None:
            engine.reload_if_changed()

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
            "checking": self._held,
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
        """Check a held build as soon as one is published, and evaluate the served
        generation every `interval` seconds, until `stop` is set (and `wake` called)."""
        due = time.monotonic() + self.interval
        while not stop.is_set():
            wait = max(0.0, due - time.monotonic())
            self._wake.wait(wait if self._held is None else min(wait, RETRY_SECONDS))
            self._wake.clear()
            if stop.is_set():
                return
            if self._held is not None:
                self._attempt(self.check_held)
            if time.monotonic() >= due:
                self._attempt(self.evaluate)
                due = time.monotonic() + self.interval

    def _attempt(self, step: Callable[[], object]) -> None:
        try:
            step()
            self.last_error = None
        except Exception as exc:  # the next run tries again
            message = describe(exc)
            if message != self.last_error:
                log.error("quality evaluation failed (will retry): %s", message)
            self.last_error = message

    def check_held(self) -> QualityReport | None:
        """Check the held build before it serves: roll it back to the last good build when
        it fell past the tolerance, else let it through. Returns its report (None when
        nothing was held, or another generation was published meanwhile)."""
        name = self._held
        if name is None:
            return None
        with self._lock:
            report = self._check_held(name)
        self._reload()
        return report

    def _check_held(self, name: str) -> QualityReport | None:
        if served_generation_name(self.index_dir) != name:  # another publish came first
            self._release(name, passed=False)
            return None
        judged = self._judged[1] if self._judged and self._judged[0] == name else None
        if judged is None:
            labels = self.labels()
            try:
                if labels is None:
                    raise ValueError("the reference labels were detached")
                gen_dir = self.index_dir / name
                with scoring_engine(self.index_dir, gen_dir, labels, self._encoder()) as engine:
                    judged = score_and_judge(self.index_dir, labels, engine)
            except Exception as exc:  # served unchecked; the schedule scores it
                log.error("could not check %s (%s): serving it unchecked", name, describe(exc))
                self._release(name, passed=True)
                raise
            self.evaluations += 1
            append_history(
                self.index_dir, {"kind": "report", **judged.report.to_json(per_query=False)}
            )
        report = judged.report
        if judged.rollback_to is None:
            log.info("checked %s before serving it: %s; serving it", name, report.summary())
            self._release(name, passed=True)
            return report
        self._judged = (name, judged)  # a failed rollback is tried again, not re-scored
        self._roll_back(report, judged.rollback_to, served=False)
        self._judged = None
        self._release(name, passed=False)
        return report

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
            encoder = self._encoder()
            assert encoder is not None
            scorer = Engine(self.index_dir, gen, encoder, cache_size=len(labels.queries) + 1)
            judged = score_and_judge(self.index_dir, labels, scorer)
            self.evaluations += 1
            report = judged.report
            append_history(self.index_dir, {"kind": "report", **report.to_json(per_query=False)})
            if judged.rollback_to is not None:
                self._roll_back(report, judged.rollback_to, served=True)
            elif judged.alarm is not None:
                log.warning("%s", judged.alarm.message())
                append_history(
                    self.index_dir, {"kind": "alarm", "at": report.at, **judged.alarm.to_json()}
                )
            else:
                log.info("quality %s", report.summary())
            self._last_key = key
        return report

    def _roll_back(self, report: QualityReport, target: Path, served: bool) -> None:
        """Roll the build `report` judged back to `target`, with every acknowledged write
        replayed onto it; `served`: whether the build answered searches here."""
        from tinyseek.indexer.generations import rollback

        why = "; ".join(str(d) for d in report.drops)
        log.warning(
            "the %s build %s scores below the last good build %s (%s): rolling back to "
            "it, with every write acknowledged since replayed onto it",
            "served" if served else "published",
            report.generation,
            target.name,
            why,
        )
        started = time.perf_counter()
        before, after = rollback(
            self.index_dir,
            to=target.name,
            lock_wait=self.lock_wait,
            only_from=report.generation,
            score=False,  # below, once the service serves it
        )
        if before == after:
            log.info(
                "not rolled back: %s is published now, %s",
                after,
                "as a good build" if after == report.generation else "not the judged build",
            )
            return
        append_history(
            self.index_dir,
            {
                "kind": "rollback",
                "at": now(),
                "from": f"{report.generation}@{report.revision}",
                "to": after,
                "why": why,
                "served": served,
                "checked_seconds": report.seconds,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        self.rollbacks += 1
        log.warning(
            "rolled back from %s to %s; now serving %s%s",
            before,
            after,
            after,
            "" if served else f" ({before} never answered a search here)",
        )
        self._reload()  # the writes replayed are searchable from here
        record_rollback(self.index_dir, target, self._encoder(), self.lock_wait)


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
