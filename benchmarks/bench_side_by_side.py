"""tinyseek against what a shop would build instead, same process, same data, same labels.

    python benchmarks/bench_side_by_side.py                 # sample_data/ (test split)
    python benchmarks/bench_side_by_side.py --homedepot     # ../shared/data/homedepot (dev)

The plain systems use no tinyseek code beyond the labels and the metrics:
- plain BM25: tantivy, one text field (title, plus the description when it differs),
  `en_stem`, default k1/b, OR of the query words.
- plain dense: sentence-transformers all-MiniLM-L6-v2 fp32 + FAISS IndexFlatIP
  (exact inner product), one query encoded per call.
- plain RRF: reciprocal rank fusion (k=60) of the two lists above.
Filtered queries (sample data) are post-filtered over a deeper candidate list, as a
shop without filter-aware retrieval would.

tinyseek runs through `eval.runner` (cache-off Engine, cached index). Everything runs
with 1 torch / FAISS thread and reports per-query wall time (p50/p99). Corpus
embeddings for the plain dense system are cached under the eval cache directory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tinyseek.checksums import file_sha256
from tinyseek.eval.beir import LabelledQuery, LabelledSet
from tinyseek.eval.datasets import resolve_dataset
from tinyseek.eval.runner import latency_summary
from tinyseek.search.relevance import evaluate_ranking, mean_metrics

DEPTH = 100
FILTER_DEPTH = 2000
SHOWN = ("ndcg@10", "f1@10", "recall@100", "mrr@10")
TOKEN = re.compile(r"[^\W_]+")


def read_corpus(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def matches(doc: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """The sample's filter keys, checked on the raw corpus row."""
    for key, value in filters.items():
        if key == "price_max" and not (doc.get("price") is not None and doc["price"] <= value):
            return False
        if key == "price_min" and not (doc.get("price") is not None and doc["price"] >= value):
            return False
        if key == "rating_min" and not (doc.get("rating") is not None and doc["rating"] >= value):
            return False
        if key == "in_stock" and bool(doc.get("in_stock", True)) != bool(value):
            return False
        if key == "brand" and str(doc.get("brand", "")).lower() != str(value).lower():
            return False
        if key == "category":
            want = [c.strip().lower() for c in str(value).split(">") if c.strip()]
            have = [c.strip().lower() for c in str(doc.get("category", "")).split(">")]
            if have[: len(want)] != want:
                return False
    return True


class PlainBM25:
    """tantivy, one `en_stem` field, default BM25 parameters."""

    def __init__(self, corpus: Sequence[Mapping[str, Any]]) -> None:
        import tantivy

        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("row", stored=False, indexed=True, fast=True)
        builder.add_text_field("body", stored=False, tokenizer_name="en_stem")
        self._index = tantivy.Index(builder.build())
        writer = self._index.writer(128_000_000, 1)
        for row, doc in enumerate(corpus):
            title, text = str(doc.get("title", "")), str(doc.get("text", ""))
            body = title if text in ("", title) else f"{title} {text}"
            writer.add_document(tantivy.Document(row=row, body=body))
        writer.commit()
        writer.wait_merging_threads()
        self._index.reload()
        self._searcher = self._index.searcher()

    def search(self, text: str, n: int) -> list[int]:
        words = TOKEN.findall(text.lower())
        if not words:
            return []
        query = self._index.parse_query(" ".join(words), ["body"])
        hits = self._searcher.search(query, n).hits
        rows = self._searcher.fast_field_values("row", [address for _, address in hits])
        return [int(r) for r in rows if r is not None]


class PlainDense:
    """sentence-transformers fp32 + FAISS IndexFlatIP over normalised title embeddings."""

    def __init__(
        self,
        corpus: Sequence[Mapping[str, Any]],
        cache: Path,
        checksum: str,
        vectors_from: Path | None = None,
    ) -> None:
        import faiss
        from sentence_transformers import SentenceTransformer

        # the offline copy of the same public model
        from tinyseek.models.torch_backends import teacher_path

        self.model = SentenceTransformer(str(teacher_path()), device="cpu")
        cache.mkdir(parents=True, exist_ok=True)
        vectors_path = cache / f"{checksum[:16]}-all-MiniLM-L6-v2-titles.npy"
        self.encode_seconds: float | None = None
        if vectors_path.is_file():
            vectors = np.load(vectors_path)
        elif vectors_from is not None:
            vectors = self.borrow_vectors(corpus, vectors_from)
            np.save(vectors_path, vectors)
        else:
            started = time.perf_counter()
            vectors = self.model.encode(
                [str(d.get("title", "")) for d in corpus],
                batch_size=64,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=True,
            ).astype(np.float32)
            self.encode_seconds = time.perf_counter() - started
            tmp = vectors_path.with_suffix(".tmp.npy")
            np.save(tmp, vectors)
            os.replace(tmp, vectors_path)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def borrow_vectors(self, corpus: Sequence[Mapping[str, Any]], index_dir: Path) -> np.ndarray:
        """Title vectors read back from a tinyseek index built with the same model, checked
        against fresh encodings of 256 random titles (saves re-encoding a large corpus)."""
        import faiss

        gen = index_dir / (index_dir / "CURRENT").read_text().strip()
        index = faiss.read_index(str(gen / "dense.faiss"))
        storage = faiss.downcast_index(index.storage) if hasattr(index, "storage") else index
        vectors = storage.reconstruct_n(0, storage.ntotal).astype(np.float32)
        if len(vectors) != len(corpus):
            raise ValueError(f"{index_dir} has {len(vectors)} vectors for {len(corpus)} products")
        rows = np.random.default_rng(0).choice(len(corpus), size=min(256, len(corpus)))
        fresh = self.model.encode(
            [str(corpus[r].get("title", "")) for r in rows],
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        worst = float(np.min(np.sum(fresh * vectors[rows], axis=1)))
        if worst < 0.999:
            raise ValueError(f"{index_dir} vectors differ from fresh encodings (cosine {worst})")
        print(
            f"borrowed {len(vectors)} vectors, checked 256 (min cosine {worst:.6f})",
            file=sys.stderr,
        )
        return vectors

    def search(self, text: str, n: int) -> list[int]:
        q = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True)
        _, ids = self.index.search(np.asarray(q, dtype=np.float32), n)
        return [int(i) for i in ids[0] if i >= 0]


def rrf(lists: Sequence[Sequence[int]], k: int = 60) -> list[int]:
    scores: dict[int, float] = {}
    for ranked in lists:
        for rank, row in enumerate(ranked, start=1):
            scores[row] = scores.get(row, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda r: (-scores[r], r))


def run_plain(
    name: str,
    labelled: LabelledSet,
    corpus: Sequence[Mapping[str, Any]],
    search: Callable[[str, int], list[int]],
) -> dict[str, Any]:
    ids = [str(d["_id"]) for d in corpus]

    def ranked_ids(query: LabelledQuery) -> list[str]:
        if not query.filters:
            return [ids[r] for r in search(query.text, DEPTH)]
        rows = search(query.text, FILTER_DEPTH)
        return [ids[r] for r in rows if matches(corpus[r], query.filters)][:DEPTH]

    for query in labelled.queries[:5]:  # warm-up
        ranked_ids(query)
    rows, latencies = [], []
    for query in labelled.queries:
        t0 = time.perf_counter()
        ranked = ranked_ids(query)
        latencies.append((time.perf_counter() - t0) * 1000)
        rows.append(evaluate_ranking(ranked, query.qrels, labelled.relevance_threshold, 10, DEPTH))
    print(f"  {name}: done", file=sys.stderr)
    return {"metrics": mean_metrics(rows), "latency_ms": latency_summary(latencies)}


def table(systems: Mapping[str, Mapping[str, Any]]) -> str:
    header = ["system", *SHOWN, "p50 ms", "p99 ms"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, s in systems.items():
        cells = [name, *(f"{s['metrics'][m]:.3f}" for m in SHOWN)]
        cells += [f"{s['latency_ms']['p50']:.2f}", f"{s['latency_ms']['p99']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratio_table(systems: Mapping[str, Mapping[str, Any]], pairs: Sequence[tuple[str, str]]) -> str:
    header = ["tinyseek / plain", *(f"{m} ratio" for m in SHOWN), "p50 ratio", "p99 ratio"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for ours, theirs in pairs:
        if ours not in systems or theirs not in systems:
            continue
        a, b = systems[ours], systems[theirs]
        cells = [f"{ours} / {theirs}"]
        for m in SHOWN:
            cells.append(f"{a['metrics'][m] / b['metrics'][m]:.3f}" if b["metrics"][m] else "-")
        for p in ("p50", "p99"):
            cells.append(f"{a['latency_ms'][p] / b['latency_ms'][p]:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--homedepot", action="store_true", help="Home Depot dev instead of sample")
    parser.add_argument("--dataset", default=None, help="any dataset name or BEIR folder")
    parser.add_argument("--encoders", default="teacher", help="tinyseek encoder specs (comma)")
    parser.add_argument("--modes", default="bm25,dense,hybrid", help="tinyseek modes")
    parser.add_argument("--limit-queries", type=int, default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument(
        "--vectors-from-index",
        default=None,
        help="read the plain dense corpus vectors from a tinyseek index built with the teacher "
        "(checked on 256 titles) instead of encoding the corpus again",
    )
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="only encode and cache the plain dense corpus vectors, then exit",
    )
    args = parser.parse_args(argv)

    import faiss
    import torch

    from tinyseek.eval.index_cache import default_cache_root
    from tinyseek.eval.runner import run_evaluation

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    spec = resolve_dataset(args.dataset or ("homedepot" if args.homedepot else "sample"))
    labelled = spec.load()
    if args.limit_queries:
        labelled = labelled.head(args.limit_queries)
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_root()
    corpus = read_corpus(labelled.corpus_path)
    print(
        f"{spec.name}/{spec.split}: {len(corpus)} products, {len(labelled.queries)} queries",
        file=sys.stderr,
    )

    systems: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    bm25 = PlainBM25(corpus)
    print(f"plain BM25 indexed in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    dense = PlainDense(
        corpus,
        cache / "side-by-side",
        file_sha256(labelled.corpus_path),
        Path(args.vectors_from_index) if args.vectors_from_index else None,
    )
    if dense.encode_seconds is not None:
        rate = len(corpus) / dense.encode_seconds
        print(
            f"plain dense encoded the corpus in {dense.encode_seconds:.0f} s ({rate:.0f}/s)",
            file=sys.stderr,
        )
    if args.prepare_only:
        return 0
    systems["plain BM25 (tantivy 1 field)"] = run_plain("bm25", labelled, corpus, bm25.search)
    systems["plain dense (ST fp32 + IndexFlatIP)"] = run_plain(
        "dense", labelled, corpus, dense.search
    )
    systems["plain RRF k=60"] = run_plain(
        "rrf", labelled, corpus, lambda t, n: rrf([bm25.search(t, n), dense.search(t, n)])[:n]
    )

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    for result in run_evaluation(labelled, modes, encoders, cache_root=cache, threads=1):
        systems[f"tinyseek {result.name}"] = {
            "metrics": result.metrics,
            "latency_ms": result.latency_ms,
        }

    print()
    print(
        f"## Side by side: {spec.name} / {spec.split}, {len(labelled.queries)} queries, "
        f"1 thread, top-{DEPTH}"
    )
    print()
    print(table(systems))
    pairs = []
    for name in systems:
        if name.startswith("tinyseek bm25"):
            pairs.append((name, "plain BM25 (tantivy 1 field)"))
        elif name.startswith("tinyseek dense"):
            pairs.append((name, "plain dense (ST fp32 + IndexFlatIP)"))
        elif name.startswith("tinyseek hybrid"):
            pairs += [(name, "plain RRF k=60"), (name, "plain BM25 (tantivy 1 field)")]
    print()
    print(ratio_table(systems, pairs))
    print()
    print("ratios above 1 mean tinyseek scores higher (quality) or is slower (latency).")
    if args.json:
        Path(args.json).write_text(json.dumps(systems, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
