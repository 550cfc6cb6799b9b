"""Reference labels a shop has: graded judgement files and click/purchase logs.

Both are CSV, TSV, JSON Lines or Parquet files with named columns, read by the catalog
readers' row reader (`indexer.readers.source_rows`: encodings, broken quotes), so a bad
row becomes a `Reject` (line, reason, raw text) and reading goes on.

Judgements: rows of `query, product_id, grade` (optional `query_id`). Any numeric scale:
gain = grade - `grade_min` (the grade that means "not relevant", default 0; floored at 0)
is the graded gain nDCG uses; a product is relevant for F1/precision/recall/MRR when its
gain reaches `relevant_at`, by default half the highest gain in the file (0-3 grades:
2 and 3 are relevant; 0-2: 1 and 2; 0/1: 1). Several rows for one (query, product), e.g.
one per rater, are averaged.

Click logs: rows of `query, product_id, action, timestamp` (optional `position`, the
1-based rank the product was shown at). Grades come from clicks over expected clicks
(COEC; Zhang & Jones, 2007), weighted by action:

1. an action is worth ACTION_WEIGHTS (view 0: an impression; click 1; add_to_cart 2;
   purchase 3); a pair's engagement E is the sum over its events;
2. its expected engagement X is what an average product would have earned where this one
   was shown: the sum over its views of the log's mean engagement per view at that
   position (without positions: the query's mean engagement per view); a query without
   any view events compares each product with the query's mean engaged product;
3. ratio = E / X; grade 3 when ratio >= 2, 2 when >= 1, 1 when >= 0.5, else 0;
   relevant means grade >= 2 (engaged at least as much as expected where it was shown).

Position bias (shoppers click the top results whatever they are) is corrected only
when the log has positions; pairs with fewer than `min_views` views are left unjudged
(too little evidence). When the log has positions, every row carries the position the
product was shown at.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tinyseek.indexer.quality import ReferenceQuery, ReferenceSet
from tinyseek.indexer.readers import RAW_LIMIT, Reject, source_rows
from tinyseek.search.validation import normalise_id

QUERY_COLUMNS = ("query", "q", "query_text", "search_term", "keyword")
QUERY_ID_COLUMNS = ("query_id", "query-id", "qid")
PRODUCT_COLUMNS = ("product_id", "product", "id", "doc_id", "corpus-id", "product_uid", "sku")
GRADE_COLUMNS = ("grade", "relevance", "score", "label", "judgement", "judgment")
ACTION_COLUMNS = ("action", "event", "event_type")
TIMESTAMP_COLUMNS = ("timestamp", "time", "ts", "date")
POSITION_COLUMNS = ("position", "rank", "pos")

ACTION_WEIGHTS = {"view": 0.0, "click": 1.0, "add_to_cart": 2.0, "purchase": 3.0}
ACTION_ALIASES = {
    "impression": "view",
    "show": "view",
    "add-to-cart": "add_to_cart",
    "addtocart": "add_to_cart",
    "cart": "add_to_cart",
    "order": "purchase",
    "buy": "purchase",
    "conversion": "purchase",
}
GRADE_STEPS = ((2.0, 3), (1.0, 2), (0.5, 1))
"""(lowest ratio, grade) of click-derived grades; below the last step, grade 0."""
CLICK_RELEVANT_AT = 2.0
DEFAULT_MIN_VIEWS = 5


@dataclass(frozen=True)
class Judgement:
    query: str
    product_id: str
    grade: float
    query_id: str = ""


@dataclass(frozen=True)
class ClickEvent:
    query: str
    product_id: str
    action: str
    timestamp: float
    position: int | None = None


def _pick(row: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return value
    return None


def _query(row: Mapping[str, Any]) -> str:
    text = " ".join(str(_pick(row, QUERY_COLUMNS) or "").split())
    if not text:
        raise ValueError("missing query")
    return text


def _product_id(row: Mapping[str, Any]) -> str:
    value = _pick(row, PRODUCT_COLUMNS)
    if value is None or not str(value).strip():
        raise ValueError("missing product_id")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return normalise_id(str(value))


def _finite(name: str, value: Any) -> float:
    if value is None:
        raise ValueError(f"missing {name}")
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _timestamp(value: Any) -> float:
    """Seconds since the epoch, from a number or an ISO 8601 date-time."""
    if value is None:
        raise ValueError("missing timestamp")
    try:
        return _finite("timestamp", value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValueError(
            f"timestamp must be epoch seconds or ISO 8601, got {str(value)[:40]!r}"
        ) from None


def _action(value: Any) -> str:
    text = str(value or "").strip().lower().replace(" ", "_")
    action = ACTION_ALIASES.get(text, text)
    if action not in ACTION_WEIGHTS:
        known = ", ".join([*ACTION_WEIGHTS, *ACTION_ALIASES])
        raise ValueError(f"unknown action {value!r} (known: {known})")
    return action


def _rows(
    path: str | Path, parse: Any, fmt: str | None, encoding: str | None
) -> Iterator[Any | Reject]:
    for line, row, raw in source_rows(path, fmt, encoding):
        if isinstance(row, str):
            yield Reject(line, row, raw[:RAW_LIMIT])
            continue
        try:
            yield parse(row)
        except ValueError as exc:
            yield Reject(line, str(exc), raw[:RAW_LIMIT])


def _judgement(row: Mapping[str, Any]) -> Judgement:
    query_id = _pick(row, QUERY_ID_COLUMNS)
    return Judgement(
        query=_query(row),
        product_id=_product_id(row),
        grade=_finite("grade", _pick(row, GRADE_COLUMNS)),
        query_id="" if query_id is None else str(query_id).strip(),
    )


def _click(row: Mapping[str, Any]) -> ClickEvent:
    position = _pick(row, POSITION_COLUMNS)
    if position is not None:
        number = _finite("position", position)
        if number < 1 or not number.is_integer():
            raise ValueError(f"position must be a whole number >= 1, got {position!r}")
        position = int(number)
    return ClickEvent(
        query=_query(row),
        product_id=_product_id(row),
        action=_action(_pick(row, ACTION_COLUMNS)),
        timestamp=_timestamp(_pick(row, TIMESTAMP_COLUMNS)),
        position=position,
    )


def read_judgements(
    path: str | Path, fmt: str | None = None, encoding: str | None = None
) -> Iterator[Judgement | Reject]:
    """Graded judgements (`query, product_id, grade`) in file order; bad rows as Rejects."""
    return _rows(path, _judgement, fmt, encoding)


def read_click_log(
    path: str | Path, fmt: str | None = None, encoding: str | None = None
) -> Iterator[ClickEvent | Reject]:
    """Click/purchase log events (`query, product_id, action, timestamp[, position]`)."""
    return _rows(path, _click, fmt, encoding)


def is_click_log(path: str | Path, fmt: str | None = None, encoding: str | None = None) -> bool:
    """Whether the file's first parsable row has an action column (else: judgements)."""
    for _, row, _ in source_rows(path, fmt, encoding):
        if not isinstance(row, str):
            return _pick(row, ACTION_COLUMNS) is not None
    return False


# --------------------------------------------------------------------------- to a reference set


def query_id_of(text: str) -> str:
    return "q-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def reference_from_judgements(
    judgements: Iterable[Judgement],
    grade_min: float = 0.0,
    relevant_at: float | None = None,
    source: str = "",
) -> ReferenceSet:
    """Average repeated (query, product) grades; gain = grade - grade_min (floored at 0);
    relevant from `relevant_at` (default: half the highest gain)."""
    grades: dict[tuple[str, str], list[float]] = defaultdict(list)
    ids: dict[str, str] = {}
    for j in judgements:
        grades[(j.query, j.product_id)].append(j.grade)
        if j.query_id:
            ids.setdefault(j.query, j.query_id)
    by_query: dict[str, dict[str, float]] = defaultdict(dict)
    for (query, pid), values in grades.items():
        by_query[query][pid] = max(sum(values) / len(values) - grade_min, 0.0)
    if not by_query:
        raise ValueError("no valid judgements")
    top = max(g for gains in by_query.values() for g in gains.values())
    if relevant_at is None:
        if top <= 0:
            raise ValueError(f"no grade is above grade_min {grade_min:g}: nothing is relevant")
        relevant_at = top / 2
    queries = tuple(
        ReferenceQuery(ids.get(query) or query_id_of(query), query, gains)
        for query, gains in by_query.items()
    )
    return ReferenceSet(queries, relevance_threshold=relevant_at, source=source)


@dataclass(frozen=True)
class ClickGrade:
    query: str
    product_id: str
    views: int
    engagement: float
    expected: float

    @property
    def ratio(self) -> float:
        return self.engagement / self.expected if self.expected > 0 else 0.0

    @property
    def grade(self) -> int:
        return next((grade for low, grade in GRADE_STEPS if self.ratio >= low), 0)


def click_grades(
    events: Iterable[ClickEvent], min_views: int = DEFAULT_MIN_VIEWS
) -> list[ClickGrade]:
    """Clicks over expected clicks, action-weighted (see the module doc), per (query,
    product) with enough evidence."""
    views: dict[tuple[str, str], list[int | None]] = defaultdict(list)
    engagement: dict[tuple[str, str], float] = defaultdict(float)
    per_position: dict[int | None, list[float]] = defaultdict(lambda: [0.0, 0.0])
    per_query: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for e in events:
        pair = (e.query, e.product_id)
        weight = ACTION_WEIGHTS[e.action]
        if e.action == "view":
            views[pair].append(e.position)
            per_position[e.position][1] += 1
            per_query[e.query][1] += 1
        else:
            engagement[pair] += weight
            per_position[e.position][0] += weight
            per_query[e.query][0] += weight
    positioned = any(p is not None for p in per_position)
    engaged_per_query: dict[str, list[float]] = defaultdict(list)
    for (query, _), value in engagement.items():
        engaged_per_query[query].append(value)
    grades = []
    for pair in sorted(set(views) | set(engagement)):
        query, pid = pair
        shown = views.get(pair, [])
        if per_query[query][1] == 0:  # no impressions logged for this query
            engaged = engaged_per_query[query]
            expected = sum(engaged) / len(engaged)
        elif len(shown) < min_views:
            continue
        elif positioned:
            expected = sum(
                per_position[p][0] / per_position[p][1] for p in shown if per_position[p][1]
            )
        else:
            expected = len(shown) * per_query[query][0] / per_query[query][1]
        grades.append(ClickGrade(query, pid, len(shown), engagement.get(pair, 0.0), expected))
    return grades


def reference_from_clicks(
    events: Iterable[ClickEvent], min_views: int = DEFAULT_MIN_VIEWS, source: str = ""
) -> ReferenceSet:
    """A reference set graded 0-3 from a click log (relevant: grade >= 2)."""
    by_query: dict[str, dict[str, float]] = defaultdict(dict)
    for g in click_grades(events, min_views):
        by_query[g.query][g.product_id] = float(g.grade)
    if not by_query:
        raise ValueError(
            f"no (query, product) pair has enough evidence (at least {min_views} views, or "
            "engagement in a query without logged views)"
        )
    queries = tuple(
        ReferenceQuery(query_id_of(query), query, gains) for query, gains in by_query.items()
    )
    return ReferenceSet(queries, relevance_threshold=CLICK_RELEVANT_AT, source=source)


def read_reference(
    path: str | Path,
    *,
    clicks: bool | None = None,
    grade_min: float = 0.0,
    relevant_at: float | None = None,
    min_views: int = DEFAULT_MIN_VIEWS,
    fmt: str | None = None,
    encoding: str | None = None,
) -> tuple[ReferenceSet, list[Reject]]:
    """A reference set from a judgements file or (`clicks`, detected when None) a click
    log, with the rows that were rejected."""
    path = Path(path)
    if clicks is None:
        clicks = is_click_log(path, fmt, encoding)
    rejects: list[Reject] = []
    if clicks:
        events: list[ClickEvent] = []
        for event in read_click_log(path, fmt, encoding):
            if isinstance(event, Reject):
                rejects.append(event)
            else:
                events.append(event)
        source = f"{path.name} (click log: clicks over expected clicks, min {min_views} views)"
        return reference_from_clicks(events, min_views, source=source), rejects
    judgements: list[Judgement] = []
    for judgement in read_judgements(path, fmt, encoding):
        if isinstance(judgement, Reject):
            rejects.append(judgement)
        else:
            judgements.append(judgement)
    labels = reference_from_judgements(
        judgements,
        grade_min=grade_min,
        relevant_at=relevant_at,
        source=f"{path.name} (judgements: gain = grade - {grade_min:g})",
    )
    return labels, rejects
