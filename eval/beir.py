"""Load labelled datasets in BEIR layout: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LabelledQuery:
    query_id: str
    text: str
    qrels: dict[str, float]
    """doc id -> gain (graded, already shifted so 0 means not relevant)."""
    filters: dict[str, Any] = field(default_factory=dict)
    kind: str = ""


@dataclass(frozen=True)
class LabelledSet:
    name: str
    corpus_path: Path
    queries: list[LabelledQuery]
    relevance_threshold: float
    """Binary relevance for P/R/F1/MRR: gain >= threshold."""

    def head(self, n: int) -> LabelledSet:
        """The same set restricted to its first n queries."""
        return dataclasses.replace(self, queries=self.queries[:n])


def load_beir(
    root: str | Path,
    split: str = "test",
    gain_offset: float = 0.0,
    relevance_threshold: float = 1.0,
    drop_zero_gain: bool = False,
) -> LabelledSet:
    """Read a BEIR folder. gain = score - gain_offset (floored at 0).

    Every query with at least one judgement is kept, as trec_eval and BEIR do: a query
    whose judgements all have gain 0 scores nDCG 0 and counts in the nDCG mean (the
    binary metrics skip queries without a relevant document). With drop_zero_gain,
    such queries are left out instead. Unjudged queries are always left out.
    """
    root = Path(root)
    corpus = root / "corpus.jsonl"
    qrels_path = root / "qrels" / f"{split}.tsv"
    queries_path = root / "queries.jsonl"
    missing = [p.name for p in (corpus, queries_path, qrels_path) if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{root} is not a BEIR folder for split {split!r}: missing {', '.join(missing)} "
            "(expected corpus.jsonl, queries.jsonl, qrels/<split>.tsv)"
        )
    qrels: dict[str, dict[str, float]] = {}
    with qrels_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for row in reader:
            if not row or row[0] == "query-id":
                continue
            qid, did, score = row[0], row[1], float(row[2])
            qrels.setdefault(qid, {})[did] = max(score - gain_offset, 0.0)
    queries: list[LabelledQuery] = []
    with queries_path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            q = json.loads(line)
            labels = qrels.get(str(q["_id"]))
            if not labels or (drop_zero_gain and max(labels.values()) <= 0):
                continue
            queries.append(
                LabelledQuery(
                    query_id=str(q["_id"]),
                    text=str(q["text"]),
                    qrels=labels,
                    filters=dict(q.get("filters") or {}),
                    kind=str(q.get("kind", "")),
                )
            )
    return LabelledSet(root.name, corpus, queries, relevance_threshold)


def load_sample(root: str | Path | None = None) -> LabelledSet:
    """The project's sample labels (default: the packaged sample data): grades 0-2, relevant
    means grade >= 1."""
    from tinyseek.resources import sample_data_dir

    root = sample_data_dir() if root is None else root
    return load_beir(root, split="test", gain_offset=0.0, relevance_threshold=1.0)


def load_homedepot(root: str | Path, split: str = "dev") -> LabelledSet:
    """Home Depot: scores 1-3, gain = score - 1, relevant = score >= 2.5 (gain >= 1.5)."""
    return load_beir(root, split=split, gain_offset=1.0, relevance_threshold=1.5)
