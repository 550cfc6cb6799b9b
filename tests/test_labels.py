"""Reference label readers (judgements and click logs, every format, bad rows) and the
click-to-grade conversion on a seeded synthetic log with position bias."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tinyseek.eval.labels import (
    ClickEvent,
    Judgement,
    click_grades,
    is_click_log,
    read_click_log,
    read_judgements,
    reference_from_clicks,
    reference_from_judgements,
)
from tinyseek.indexer.readers import Reject
from tinyseek.search.relevance import ndcg_at_k


def split(items: list) -> tuple[list, list[Reject]]:  # type: ignore[type-arg]
    return [i for i in items if not isinstance(i, Reject)], [
        i for i in items if isinstance(i, Reject)
    ]


GOOD = [("red sofa", "P1", 3), ("red sofa", "P2", 0), ("desk lamp", "P3", 2)]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_judgements_every_format_good_and_bad_rows(tmp_path: Path, fmt: str) -> None:
    rows = [
        {"query": q, "product_id": p, "grade": str(g) if fmt != "jsonl" else g} for q, p, g in GOOD
    ]
    bad = [
        {"query": "", "product_id": "P9", "grade": "1"},  # missing query
        {"query": "chair", "product_id": "P4", "grade": "very"},  # not a number
        {"query": "chair", "product_id": "", "grade": "1"},  # missing product
        {"query": "chair", "product_id": "P5", "grade": "nan"},  # not finite
    ]
    path = tmp_path / f"labels.{fmt}"
    everything = rows[:2] + bad + rows[2:]
    if fmt == "jsonl":
        lines = [json.dumps(r) for r in everything]
        lines.insert(3, "{not json")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(everything), path)
    else:
        sep = "," if fmt == "csv" else "\t"
        text = sep.join(["query", "product_id", "grade"]) + "\n"
        text += "".join(sep.join(r.values()) + "\n" for r in everything)
        path.write_text(text, encoding="utf-8")
    judgements, rejects = split(list(read_judgements(path)))
    assert [(j.query, j.product_id, j.grade) for j in judgements] == [
        (q, p, float(g)) for q, p, g in GOOD
    ]
    reasons = sorted(r.reason for r in rejects)
    expected = ["grade must be a number, got 'very'", "missing product_id", "missing query"]
    assert [r for r in reasons if not r.startswith(("invalid JSON", "grade must be finite"))] == (
        expected
    )
    assert any(r.startswith("grade must be finite") for r in reasons)
    if fmt == "jsonl":
        assert any(r.reason.startswith("invalid JSON") and r.line == 4 for r in rejects)
    if fmt in ("csv", "tsv"):  # line numbers count the header
        assert {r.reason: r.line for r in rejects}["missing query"] == 4
    assert not is_click_log(path)


def test_column_aliases_and_repeated_raters_averaged(tmp_path: Path) -> None:
    path = tmp_path / "hd.tsv"
    path.write_text(
        "query-id\tsearch_term\tproduct_uid\trelevance\n"
        "q1\tangle bracket\t100001\t3\n"
        "q1\tangle bracket\t100001\t2\n"  # a second rater
        "q1\tangle bracket\t100002\t1\n"
        "q2\tdeck stain\t100003\t2.33\n",
        encoding="utf-8",
    )
    judgements, rejects = split(list(read_judgements(path)))
    assert not rejects
    # Home Depot's convention: 1 = not relevant, relevant from 2.5 (gain 1.5)
    labels = reference_from_judgements(judgements, grade_min=1, relevant_at=1.5)
    by_id = {q.query_id: q for q in labels.queries}
    assert by_id["q1"].gains == {"100001": 1.5, "100002": 0.0}
    assert by_id["q1"].text == "angle bracket"
    assert labels.relevant(by_id["q1"]) == {"100001"}
    assert labels.relevant(by_id["q2"]) == set()


def test_default_relevance_is_half_the_top_gain() -> None:
    scale_0_3 = [Judgement("q", f"P{g}", g) for g in (0, 1, 2, 3)]
    labels = reference_from_judgements(scale_0_3)
    assert labels.relevance_threshold == 1.5
    assert labels.relevant(labels.queries[0]) == {"P2", "P3"}
    binary = reference_from_judgements([Judgement("q", "A", 1), Judgement("q", "B", 0)])
    assert binary.relevant(binary.queries[0]) == {"A"}
    with pytest.raises(ValueError, match="nothing is relevant"):
        reference_from_judgements([Judgement("q", "A", 0)])


def test_click_log_rows_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv"
    path.write_text(
        "query,product_id,action,timestamp,position\n"
        "sofa,P1,view,2026-11-01T10:00:00Z,1\n"
        "sofa,P1,Add to cart,1761991200,1\n"
        "sofa,P1,teleport,2026-11-01T10:00:02Z,1\n"  # unknown action
        "sofa,P2,click,yesterday,2\n"  # bad timestamp
        "sofa,P2,click,2026-11-01T10:00:03,0\n"  # position must be >= 1
        'sofa,"P3,click,2026-11-01T10:00:04,3\n'  # broken quote
        "sofa,P3,purchase,2026-11-01T10:00:05+01:00,3\n",
        encoding="utf-8",
    )
    assert is_click_log(path)
    events, rejects = split(list(read_click_log(path)))
    assert [(e.product_id, e.action, e.position) for e in events] == [
        ("P1", "view", 1),
        ("P1", "add_to_cart", 1),
        ("P3", "purchase", 3),
    ]
    by_line = {r.line: r.reason for r in rejects}
    assert by_line[4].startswith("unknown action 'teleport'")
    assert by_line[5].startswith("timestamp must be epoch seconds or ISO 8601")
    assert by_line[6].startswith("position must be a whole number")
    assert by_line[7].startswith("malformed row (quoting)")


def spearman(xs: list[float], ys: list[float]) -> float:
    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        out = [0.0] * len(values)
        i = 0
        while i < len(order):  # average ranks of ties
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for m in range(i, j + 1):
                out[order[m]] = (i + j) / 2
            i = j + 1
        return out

    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy) if vx and vy else 0.0


def synthetic_log(
    seed: int = 7, queries: int = 20, sessions: int = 1000
) -> tuple[list[ClickEvent], dict[str, dict[str, float]]]:
    """Known preferences (attractiveness per product), shown mostly in the WORST order by a
    poor ranker, with examination falling as 1/position^2: raw clicks favour the top slots
    so strongly that counting them ranks the products backwards."""
    rng = random.Random(seed)
    levels = [0.05, 0.15, 0.3, 0.45, 0.6, 0.8]
    events: list[ClickEvent] = []
    truth: dict[str, dict[str, float]] = {}
    t = 1_760_000_000.0
    for qn in range(queries):
        query = f"query {qn}"
        attractive = levels[:]
        rng.shuffle(attractive)
        products = {f"Q{qn}-P{i}": a for i, a in enumerate(attractive)}
        truth[query] = products
        worst_first = sorted(products, key=products.__getitem__)
        for _ in range(sessions):
            order = worst_first[:] if rng.random() < 0.8 else rng.sample(worst_first, 6)
            for position, pid in enumerate(order, start=1):
                t += 1
                events.append(ClickEvent(query, pid, "view", t, position))
                a = products[pid]
                if rng.random() < a / position**2:
                    events.append(ClickEvent(query, pid, "click", t, position))
                    if rng.random() < 0.4:
                        events.append(ClickEvent(query, pid, "add_to_cart", t, position))
                        if rng.random() < 0.5:
                            events.append(ClickEvent(query, pid, "purchase", t, position))
    return events, truth


def test_click_grades_recover_known_preferences_despite_position_bias() -> None:
    events, truth = synthetic_log()
    grades = click_grades(events)
    ratio = {(g.query, g.product_id): g.ratio for g in grades}
    raw = {(g.query, g.product_id): g.engagement for g in grades}
    coec, naive, ndcg = [], [], []
    for query, products in truth.items():
        ids = list(products)
        preference = [products[p] for p in ids]
        coec.append(spearman([ratio[(query, p)] for p in ids], preference))
        naive.append(spearman([raw[(query, p)] for p in ids], preference))
        by_grade = sorted(ids, key=lambda p: -ratio[(query, p)])
        ndcg.append(ndcg_at_k(by_grade, products, 6))
    mean_coec = sum(coec) / len(coec)
    mean_naive = sum(naive) / len(naive)
    mean_ndcg = sum(ndcg) / len(ndcg)
    print(f"spearman COEC {mean_coec:.3f} vs raw engagement {mean_naive:.3f}; nDCG {mean_ndcg:.3f}")
    assert mean_coec >= 0.85
    assert mean_naive <= mean_coec - 0.3  # position bias misleads raw counts
    assert mean_ndcg >= 0.97
    labels = reference_from_clicks(events, source="synthetic")
    assert labels.relevance_threshold == 2.0
    mean_grade: dict[float, list[float]] = {}
    for query in labels.queries:
        products = truth[query.text]
        best, worst = (
            max(products, key=products.__getitem__),
            min(products, key=products.__getitem__),
        )
        assert best in labels.relevant(query) and worst not in labels.relevant(query)
        for pid, gain in query.gains.items():
            mean_grade.setdefault(products[pid], []).append(gain)
    by_preference = [sum(v) / len(v) for _, v in sorted(mean_grade.items())]
    assert by_preference == sorted(by_preference)  # grades rise with the true preference


def test_click_log_without_views_grades_against_the_mean_engaged_product() -> None:
    events = [ClickEvent("lamp", "A", "purchase", 1.0)] * 3 + [
        ClickEvent("lamp", "B", "click", 2.0)
    ]
    grades = {g.product_id: g for g in click_grades(events)}
    assert grades["A"].ratio == pytest.approx(9 / 5)  # 9 against a mean of (9 + 1) / 2
    assert grades["A"].grade == 2 and grades["B"].grade == 0


def test_too_little_evidence_is_left_unjudged() -> None:
    events = [ClickEvent("lamp", "A", "view", float(i), 1) for i in range(4)]
    events.append(ClickEvent("lamp", "A", "click", 9.0, 1))
    assert click_grades(events, min_views=5) == []
    with pytest.raises(ValueError, match="enough evidence"):
        reference_from_clicks(events)
