"""Checks on the synthetic sample catalog in sample_data/ (format, labels, reproducibility)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parent.parent / "sample_data"
FILES = ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")

CORPUS_KEYS = [
    "_id",
    "title",
    "text",
    "brand",
    "category",
    "price",
    "rating",
    "in_stock",
    "attributes",
]
FILTER_TYPES: dict[str, tuple[type, ...]] = {
    "category": (str,),
    "brand": (str,),
    "price_min": (float, int),
    "price_max": (float, int),
    "rating_min": (float, int),
    "in_stock": (bool,),
}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    return _jsonl(DATA / "corpus.jsonl")


@pytest.fixture(scope="module")
def queries() -> list[dict[str, Any]]:
    return _jsonl(DATA / "queries.jsonl")


@pytest.fixture(scope="module")
def qrels() -> list[tuple[str, str, int]]:
    lines = (DATA / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "query-id\tcorpus-id\tscore"
    rows = []
    for line in lines[1:]:
        qid, pid, score = line.split("\t")
        rows.append((qid, pid, int(score)))
    return rows


def _matches(p: dict[str, Any], filters: dict[str, Any]) -> bool:
    category = filters.get("category")
    if category is not None and not (
        p["category"] == category or p["category"].startswith(category + " > ")
    ):
        return False
    if "brand" in filters and p["brand"] != filters["brand"]:
        return False
    if "price_min" in filters and p["price"] < filters["price_min"]:
        return False
    if "price_max" in filters and p["price"] > filters["price_max"]:
        return False
    if "rating_min" in filters and p["rating"] < filters["rating_min"]:
        return False
    return not ("in_stock" in filters and p["in_stock"] is not filters["in_stock"])


def test_corpus_ids_unique_and_well_formed(corpus: list[dict[str, Any]]) -> None:
    ids = [p["_id"] for p in corpus]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"TS-\d{6}", i) for i in ids)


def test_corpus_field_types(corpus: list[dict[str, Any]]) -> None:
    for p in corpus:
        assert list(p) == CORPUS_KEYS, p["_id"]
        for key in ("title", "text", "brand", "category"):
            assert isinstance(p[key], str) and p[key].strip(), (p["_id"], key)
        levels = p["category"].split(" > ")
        assert 2 <= len(levels) <= 3 and all(level.strip() for level in levels), p["_id"]
        assert type(p["price"]) is float and p["price"] > 0, p["_id"]
        assert round(p["price"], 2) == p["price"], p["_id"]
        assert type(p["rating"]) is float and 1.0 <= p["rating"] <= 5.0, p["_id"]
        assert round(p["rating"], 1) == p["rating"], p["_id"]
        assert type(p["in_stock"]) is bool, p["_id"]
        attrs = p["attributes"]
        assert isinstance(attrs, dict) and 2 <= len(attrs) <= 4, p["_id"]
        assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in attrs.items())
        sentences = re.findall(r"[.!?](?=\s+[A-Z0-9]|$)", p["text"])
        assert 1 <= len(sentences) <= 3, (p["_id"], p["text"])


def test_corpus_size_and_variety(corpus: list[dict[str, Any]]) -> None:
    assert 800 <= len(corpus) <= 1500
    departments = {p["category"].split(" > ")[0] for p in corpus}
    assert len(departments) >= 8
    titles = [p["title"] for p in corpus]
    assert len(titles) == len(set(titles)), "duplicate titles"
    brands_by_department: dict[str, set[str]] = defaultdict(set)
    for p in corpus:
        brands_by_department[p["category"].split(" > ")[0]].add(p["brand"])
    assert all(len(b) >= 3 for b in brands_by_department.values())
    assert (DATA / "corpus.jsonl").stat().st_size < 1_000_000


def test_queries_well_formed(queries: list[dict[str, Any]]) -> None:
    assert 60 <= len(queries) <= 90
    ids = [q["_id"] for q in queries]
    assert len(ids) == len(set(ids))
    for q in queries:
        assert re.fullmatch(r"q\d{3}", q["_id"])
        assert isinstance(q["text"], str) and q["text"].strip()
        assert q["kind"] in ("semantic", "lexical", "filtered")
        if q["kind"] != "filtered":
            assert set(q) == {"_id", "text", "kind"}, q["_id"]
            continue
        assert set(q) == {"_id", "text", "kind", "filters"}, q["_id"]
        assert q["filters"], q["_id"]
        for key, value in q["filters"].items():
            assert key in FILTER_TYPES, (q["_id"], key)
            assert isinstance(value, FILTER_TYPES[key]), (q["_id"], key)
            if key != "in_stock":
                assert not isinstance(value, bool), (q["_id"], key)
    kinds = Counter(q["kind"] for q in queries)
    assert kinds["semantic"] >= 25
    assert kinds["lexical"] >= 20
    assert kinds["filtered"] >= 10


def test_qrels_reference_known_ids(
    corpus: list[dict[str, Any]],
    queries: list[dict[str, Any]],
    qrels: list[tuple[str, str, int]],
) -> None:
    corpus_ids = {p["_id"] for p in corpus}
    query_ids = {q["_id"] for q in queries}
    pairs = [(qid, pid) for qid, pid, _ in qrels]
    assert len(pairs) == len(set(pairs)), "duplicate judgement"
    for qid, pid, score in qrels:
        assert qid in query_ids, qid
        assert pid in corpus_ids, pid
        assert score in (0, 1, 2)


def test_every_query_has_a_highly_relevant_product(
    queries: list[dict[str, Any]], qrels: list[tuple[str, str, int]]
) -> None:
    best = {qid for qid, _, score in qrels if score == 2}
    missing = [q["_id"] for q in queries if q["_id"] not in best]
    assert not missing


def test_filtered_relevant_products_satisfy_filters(
    corpus: list[dict[str, Any]],
    queries: list[dict[str, Any]],
    qrels: list[tuple[str, str, int]],
) -> None:
    products = {p["_id"]: p for p in corpus}
    filters = {q["_id"]: q["filters"] for q in queries if q["kind"] == "filtered"}
    for qid, pid, score in qrels:
        if qid in filters and score > 0:
            assert _matches(products[pid], filters[qid]), (qid, pid)


def test_generator_reproduces_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(DATA / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
