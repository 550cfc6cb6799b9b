"""The quality guard: the check every publish passes, the check after in-place writes,
and where a drop of the served generation comes from.

`check_before_publish` runs inside `indexer.writer.publish_with_writes`, after the
candidate holds every acknowledged write and before CURRENT names it: F1@10 or nDCG@10 of
any configuration falling by more than the tolerance (relative) against the served
generation refuses the publish (QualityRefusedError, exit code 9) unless forced; the
report goes into the candidate's manifest (`quality`) and the history either way. A
rollback is served first, then scored and recorded (`record_rollback`), never refused.

In-place writes (`tinyseek update`, the API) are the shop's own data: they are never
refused. `check_in_place` re-scores the served generation after an update that touched a
judged product or changed at least CHANGE_SHARE of the live products, and raises the alarm
when it fell past the tolerance against its publish report. `judge_served` tells a bad
build (roll it back) from bad writes (the alarm) for the service's re-evaluation.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyseek.errors import EXIT_QUALITY_REFUSED
from tinyseek.indexer.quality import (
    GATED,
    GOOD_BUILDS,
    MODES,
    Drop,
    K,
    QualityReport,
    ReferenceSet,
    Verdict,
    append_history,
    find_drops,
    latest_report,
    load_labels,
    now,
    publish_report,
    record,
    score_engine,
    score_generation,
)
from tinyseek.search.layout import (
    DOCS_FILE,
    current_generation,
    list_generations,
    served_generation_name,
)

if TYPE_CHECKING:
    from tinyseek.indexer.journal import Journal
    from tinyseek.models.encoder import Encoder
    from tinyseek.search.engine import Engine

log = logging.getLogger(__name__)

CHANGE_SHARE = 0.01
"""An in-place update is re-scored when it touched a judged product or this share of the
live products."""


class QualityRefusedError(RuntimeError):
    """Publishing was refused: the candidate scored worse than the served generation."""

    exit_code = EXIT_QUALITY_REFUSED


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
    tolerance, unless `force`. (A rollback is never checked: see `record_rollback`.) The
    caller holds the writer lock.
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
    verdict = Verdict.PASSED if not drops else Verdict.FORCED if force else Verdict.REFUSED
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


def record_rollback(
    index_dir: Path, gen_dir: Path, encoder: Encoder | None, lock_wait: float | None = None
) -> None:
    """Score a generation a rollback has just served and record it as its new publish
    report, while it is still the served one. Called without the writer lock: scoring
    takes seconds, and writes must not wait for it; the lock is taken only to record (a
    crash before leaves the build's earlier, good, report). A failure is logged, never
    raised: the rollback is done."""
    from tinyseek.indexer.lock import WriterLock

    try:
        labels = load_labels(index_dir)
        if labels is None:
            return
        report = score_generation(index_dir, gen_dir, labels, encoder)
        report = replace(report, event="rollback", verdict=Verdict.ROLLBACK.value)
        with WriterLock(index_dir, timeout=lock_wait):
            if served_generation_name(index_dir) != gen_dir.name:
                log.info("not recording %s's rollback report: no longer served", gen_dir.name)
                return
            record(index_dir, report, publish_report_of=gen_dir)
        log.info("quality rollback: %s", report.summary())
    except Exception as exc:
        log.warning("rolled back to %s, but could not score it: %s", gen_dir.name, exc)


def _current_report(index_dir: Path, gen_dir: Path, labels: ReferenceSet) -> QualityReport:
    """The served generation's report at its current state: from the history when one was
    made at this revision on these labels, else scored now."""
    from tinyseek.search.store import DocStore

    store = DocStore(gen_dir / DOCS_FILE)
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
    store = DocStore(gen_dir / DOCS_FILE)
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
    record(index_dir, report, latest_report_of=gen_dir)
    if alarm is not None:
        log.warning("%s", alarm.message())
        append_history(index_dir, {"kind": "alarm", "at": now(), **alarm.to_json()})
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
    if is_suspect(publish) and good is not None:
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


def is_suspect(publish: QualityReport | None) -> bool:
    """Whether a build was forced past the publish check or never checked by it."""
    return publish is None or publish.verdict not in {v.value for v in GOOD_BUILDS}


def score_and_judge(index_dir: Path, labels: ReferenceSet, engine: Engine) -> Judged:
    """Score the engine's generation on `labels` and judge it (`judge_served`).

    A suspect build with a last good build to compare with is scored one configuration
    at a time, the likeliest to fail first (`likeliest_to_fail`), and the scoring stops
    at the first configuration that falls past the tolerance against that build: one
    such drop is all a rollback needs, and scoring the others would only delay it. Each
    configuration is scored on the full fixed sample, as at publish, so stopping early
    changes when the verdict comes, never what it is (the report then holds the
    configurations scored). Any other generation is scored in every configuration.
    """
    gen = engine.generation
    publish = publish_report(gen.path)
    good = last_good_build(index_dir, before=gen.name) if is_suspect(publish) else None
    if good is None:
        report = score_engine(engine, labels)
    else:
        baseline = good[1].configs
        report = score_engine(
            engine,
            labels,
            likeliest_to_fail(publish, good[1]),
            until=lambda config, metrics: bool(
                find_drops({config: metrics}, baseline, labels.tolerance)
            ),
        )
    report = replace(report, event="service")
    return judge_served(index_dir, labels, report, publish, gen.store.ordinal_of)


def likeliest_to_fail(publish: QualityReport | None, good: QualityReport) -> list[str]:
    """The configurations, the one whose gated metrics fell most in the build's publish
    report against the last good build's first (the default order without a report)."""
    if publish is None:
        return list(MODES)

    def change(config: str) -> float:
        now, before = publish.configs.get(config, {}), good.configs.get(config, {})
        changes = [
            (now[m] - before[m]) / before[m]
            for m in GATED
            if math.isfinite(now.get(m, math.nan)) and before.get(m, 0.0) > 0
        ]
        return min(changes, default=0.0)

    return sorted(MODES, key=change)  # stable: ties keep the default order


def last_good_build(
    index_dir: Path, before: str | None = None
) -> tuple[Path, QualityReport] | None:
    """The newest generation (older than `before`, when given) published as a good build
    (attached, passed or rolled back to), with its publish report."""
    for gen in reversed(list_generations(index_dir)):
        if before is not None and gen.name >= before:
            continue
        if is_good_build(gen):  # a damaged generation is none
            report = publish_report(gen)
            assert report is not None
            return gen, report
    return None


def is_good_build(gen_dir: Path) -> bool:
    """Whether the generation was published as a good build (attached, passed, rolled
    back to)."""
    try:
        report = publish_report(gen_dir)
    except Exception:
        return False
    return report is not None and report.verdict in {v.value for v in GOOD_BUILDS}


def is_refused(gen_dir: Path) -> bool:
    """Whether the generation's publish was refused (it was never served)."""
    try:
        report = publish_report(gen_dir)
    except Exception:
        return False
    return report is not None and report.verdict == Verdict.REFUSED.value
