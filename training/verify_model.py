"""`tinyseek verify-model DIR`: fidelity of a compact encoder artifact to its teacher.

Reports cosine to the teacher on held-out text (label-set queries, which are never distilled
on, and catalog titles in the build's hold-out) and the dense retrieval quality retained:
nDCG@10 of teacher vs artifact with exact numpy inner product over the whole corpus.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyseek.eval.beir import LabelledSet, load_homedepot, load_sample
from tinyseek.eval.datasets import homedepot_root
from tinyseek.indexer.readers import read_catalog
from tinyseek.models.artifact import load_artifact_encoder
from tinyseek.models.encoder import Encoder
from tinyseek.resources import sample_data_dir
from tinyseek.search.relevance import ndcg_at_k
from tinyseek.search.types import Product
from tinyseek.training.build import load_teacher
from tinyseek.training.distill import embed_texts, is_held_out

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetReport:
    name: str
    queries: int
    documents: int
    query_cosine_median: float
    query_cosine_p5: float
    title_cosine_median: float
    title_cosine_p5: float
    held_out_titles: int
    teacher_ndcg10: float
    artifact_ndcg10: float

    @property
    def retained(self) -> float:
        return self.artifact_ndcg10 / self.teacher_ndcg10 if self.teacher_ndcg10 else float("nan")


def read_corpus(path: Path) -> tuple[list[str], list[str]]:
    """(ids, titles) of the valid products of a corpus (any format `tinyseek index` reads)."""
    products = [p for p in read_catalog(path) if isinstance(p, Product)]
    return [p.id for p in products], [p.title for p in products]


def dense_ndcg(
    queries: np.ndarray, docs: np.ndarray, labels: LabelledSet, ids: Sequence[str], k: int = 10
) -> float:
    """Mean nDCG@k with exact brute-force inner product (chunked to bound memory)."""
    values: list[float] = []
    for start in range(0, len(queries), 512):
        scores = queries[start : start + 512] @ docs.T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        for row, query in enumerate(labels.queries[start : start + 512]):
            ranked = top[row][np.argsort(-scores[row, top[row]], kind="stable")]
            values.append(ndcg_at_k([ids[j] for j in ranked], query.qrels, k))
    return float(np.mean(values)) if values else float("nan")


class TeacherVectors:
    """The fp32 teacher (exactly all-MiniLM-L6-v2, length-sorted batches), with an on-disk
    cache of corpus vectors keyed by text checksum, outside the repository."""

    def __init__(self, cache_dir: Path | None) -> None:
        self._teacher = load_teacher(None, 128)
        self._cache_dir = cache_dir

    def encode(self, texts: list[str], desc: str) -> np.ndarray:
        key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        cached = self._cache_dir / f"teacher-{key}.npy" if self._cache_dir else None
        if cached is not None and cached.is_file():
            return np.load(cached)
        vectors = embed_texts(
            self._teacher.model,
            self._teacher.tokenizer,
            texts,
            desc=desc,
            show_progress=sys.stderr.isatty(),
        ).numpy()
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.save(cached, vectors)
        return vectors


def verify_set(
    encoder: Encoder, teacher: TeacherVectors, labels: LabelledSet, name: str
) -> SetReport:
    ids, titles = read_corpus(labels.corpus_path)
    query_texts = [q.text for q in labels.queries]
    teacher_docs = teacher.encode(titles, f"teacher {name} corpus")
    teacher_queries = teacher.encode(query_texts, f"teacher {name} queries")
    docs = np.concatenate(list(encoder.encode_documents(titles, batch_size=64)))
    queries = np.concatenate([encoder.encode_queries([t]) for t in query_texts])
    q_cos = (queries * teacher_queries).sum(axis=1)
    held = np.array([is_held_out(t) for t in titles])
    t_cos = (docs * teacher_docs).sum(axis=1)[held] if held.any() else np.array([np.nan])
    return SetReport(
        name=name,
        queries=len(query_texts),
        documents=len(titles),
        query_cosine_median=float(np.median(q_cos)),
        query_cosine_p5=float(np.percentile(q_cos, 5)),
        title_cosine_median=float(np.median(t_cos)),
        title_cosine_p5=float(np.percentile(t_cos, 5)),
        held_out_titles=int(held.sum()),
        teacher_ndcg10=dense_ndcg(teacher_queries, teacher_docs, labels, ids),
        artifact_ndcg10=dense_ndcg(queries, docs, labels, ids),
    )


def verify_model(
    path: Path,
    labels: Path | None = None,
    homedepot: Path | None = None,
    backend: str | None = None,
    threads: int | None = None,
    cache_dir: Path | None = None,
) -> list[SetReport]:
    """Reports on the sample labels (`labels`, default the packaged sample) and on Home Depot
    (`homedepot`, default where `tinyseek eval homedepot` finds it; skipped when absent)."""
    encoder = load_artifact_encoder(path, threads=threads, backend=backend)
    teacher = TeacherVectors(cache_dir)
    reports = [verify_set(encoder, teacher, load_sample(labels or sample_data_dir()), "sample")]
    homedepot = homedepot or homedepot_root()
    if (homedepot / "corpus.jsonl").is_file():
        reports.append(verify_set(encoder, teacher, load_homedepot(homedepot), "homedepot"))
    else:
        log.warning("%s not present, skipping Home Depot", homedepot)
    return reports


def format_reports(reports: Sequence[SetReport]) -> str:
    head = (
        f"{'set':<10} {'queries':>7} {'docs':>6}  {'q cos med':>9} {'q cos p5':>8}  "
        f"{'title cos med':>13} {'p5':>6}  {'nDCG@10 teacher':>15} {'artifact':>8} {'retained':>8}"
    )
    rows = [head]
    for r in reports:
        rows.append(
            f"{r.name:<10} {r.queries:>7} {r.documents:>6}  {r.query_cosine_median:>9.4f} "
            f"{r.query_cosine_p5:>8.4f}  {r.title_cosine_median:>13.4f} {r.title_cosine_p5:>6.4f}  "
            f"{r.teacher_ndcg10:>15.4f} {r.artifact_ndcg10:>8.4f} {r.retained:>8.3f}"
        )
    return "\n".join(rows)
