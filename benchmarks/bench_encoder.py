"""Encoder benchmark: teacher fp32 vs pruned vs distilled vs int8 TorchScript vs ONNX.

    python benchmarks/bench_encoder.py --artifact DIR [--student DIR.fp32.safetensors]
        [--homedepot ../shared/data/homedepot] [--ndcg]

Query latency: 1 thread, batch 1, one query at a time (tokenization included). Titles/s:
2 threads, batches of 64 through encode_documents. Cosine: median over queries, to the
teacher. nDCG@10: Home Depot dev, exact numpy inner product over all products (--ndcg).
Rows need: teacher (always), pruned / distilled fp32 (--student, written by
`tinyseek build-model --save-fp32`), int8 TorchScript and ONNX (--artifact).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@dataclass
class Row:
    name: str
    p50_ms: float
    p99_ms: float
    titles_per_s: float
    size_mb: float
    cosine: float
    ndcg: float | None = None


def latency(
    encode: Callable[[str], object], queries: Sequence[str], warmup: int = 30
) -> tuple[float, float]:
    for q in queries[:warmup]:
        encode(q)
    times = []
    for q in queries:
        start = time.perf_counter()
        encode(q)
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


def throughput(encode_docs: Callable[[list[str]], np.ndarray], titles: list[str]) -> float:
    encode_docs(titles[:256])
    start = time.perf_counter()
    encode_docs(titles)
    return len(titles) / (time.perf_counter() - start)


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--artifact", type=Path, required=True)
    parser.add_argument("--student", type=Path, default=None, help="distilled fp32 safetensors")
    parser.add_argument("--homedepot", type=Path, default=Path("../shared/data/homedepot"))
    parser.add_argument("--labels", type=Path, default=Path("sample_data"))
    parser.add_argument("--queries", type=int, default=500, help="queries timed per row")
    parser.add_argument("--titles", type=int, default=4000, help="titles for titles/s")
    parser.add_argument("--ndcg", action="store_true", help="Home Depot dev nDCG@10 (slow)")
    parser.add_argument(
        "--ndcg-all", action="store_true", help="nDCG for the fp32 student rows too (slower)"
    )
    parser.add_argument("--l1-amount", type=float, default=0.3)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "tinyseek" / "bench"
    )
    args = parser.parse_args()

    import torch

    from tinyseek.eval.beir import load_homedepot, load_sample
    from tinyseek.models.artifact import load_artifact_encoder
    from tinyseek.models.torch_backends import SentenceTransformerEncoder, teacher_path
    from tinyseek.training.build import l1_prune, load_teacher
    from tinyseek.training.distill import embed_texts, pad_batch
    from tinyseek.training.export import export_onnx, with_int8_embeddings
    from tinyseek.training.student import Selection, StudentEncoder, build_student, load_student
    from tinyseek.training.verify_model import TeacherVectors, dense_ndcg, read_corpus

    has_hd = (args.homedepot / "corpus.jsonl").is_file()
    labels = load_homedepot(args.homedepot) if has_hd else load_sample(args.labels)
    ids, titles = read_corpus(labels.corpus_path)
    rng = np.random.default_rng(0)
    query_texts = [q.text for q in labels.queries]
    timed = [query_texts[i] for i in rng.permutation(len(query_texts))[: args.queries]]
    sample_titles = [titles[i] for i in rng.permutation(len(titles))[: args.titles]]
    teacher_vectors = TeacherVectors(args.cache_dir)
    t_queries = teacher_vectors.encode(query_texts, "teacher queries")
    t_docs = teacher_vectors.encode(titles, "teacher corpus") if args.ndcg else None
    rows: list[Row] = []

    def quality(
        encode_q: Callable[[list[str]], np.ndarray],
        encode_d: Callable[[list[str]], np.ndarray],
        student_row: bool = False,
    ) -> tuple[float, float | None]:
        q = encode_q(query_texts)
        cos = float(np.median((q * t_queries).sum(axis=1)))
        wanted = args.ndcg and (args.ndcg_all or not student_row)
        ndcg = dense_ndcg(q, encode_d(titles), labels, ids) if wanted else None
        return cos, ndcg

    # teacher through sentence-transformers
    teacher = SentenceTransformerEncoder(threads=1)
    p50, p99 = latency(lambda q: teacher.encode_queries([q]), timed)
    torch.set_num_threads(2)
    tps = throughput(lambda t: teacher.encode_queries(t), sample_titles)
    size = (teacher_path() / "model.safetensors").stat().st_size / 1e6
    ndcg = dense_ndcg(t_queries, t_docs, labels, ids) if t_docs is not None else None
    rows.append(Row("teacher fp32 (sentence-transformers)", p50, p99, tps, size, 1.0, ndcg))

    def torch_rows(name: str, model: StudentEncoder, tok: object) -> None:
        from tokenizers import Tokenizer

        assert isinstance(tok, Tokenizer)
        with torch.inference_mode():
            traced = torch.jit.freeze(torch.jit.trace(model.eval(), pad_batch([[2, 1000, 3]])))
            torch.set_num_threads(1)
            p50, p99 = latency(lambda q: traced(torch.tensor([tok.encode(q).ids])), timed)
            torch.set_num_threads(2)
            tps = throughput(
                lambda t: embed_texts(model, tok, t, 64, show_progress=False).numpy(), sample_titles
            )
            cos, ndcg = quality(
                lambda t: embed_texts(model, tok, t, 256, show_progress=False).numpy(),
                lambda t: embed_texts(model, tok, t, 128, show_progress=False).numpy(),
                student_row=True,
            )
        size = sum(v.numel() * 4 for v in model.state_dict().values()) / 1e6
        rows.append(Row(name, p50, p99, tps, size, cos, ndcg))

    if args.student is not None:
        from tokenizers import Tokenizer

        distilled = load_student(args.student)
        tok = Tokenizer.from_file(str(args.artifact / "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(128)
        full_teacher = load_teacher(None, 128)
        cfg = distilled.config
        # the same structure before distillation: identical selection is not stored, so
        # re-select by importance on the catalog titles (what build-model does)
        from tinyseek.training.build import BuildConfig, select_units

        manifest = json.loads((args.artifact / "manifest.json").read_text())
        pr = manifest["pruning"]
        sel = select_units(
            full_teacher,
            sample_titles,
            BuildConfig(
                layers=tuple(pr["layers_kept"]),
                heads=pr["heads_per_layer"][0],
                ffn=pr["ffn_per_layer"][0],
            ),
            None,
        )
        pruned = build_student(full_teacher.state, Selection(sel.layers, sel.heads, sel.neurons))
        torch_rows(
            f"pruned {len(cfg.layers)}L fp32 (no distillation)", pruned, full_teacher.tokenizer
        )
        torch_rows(f"pruned {len(cfg.layers)}L + distilled fp32", distilled, tok)

        l1 = load_student(args.student)
        l1_prune(l1, args.l1_amount)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.onnx"
            export_onnx(with_int8_embeddings(l1), path)
            l1_size = path.stat().st_size / 1e6
            import onnxruntime as ort

            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

            def run(texts: list[str]) -> np.ndarray:
                out = []
                for i in range(0, len(texts), 256):
                    batch = pad_batch([e.ids for e in tok.encode_batch(texts[i : i + 256])])
                    out.append(session.run(None, {"input_ids": batch.numpy()})[0])
                return np.concatenate(out)

            cos, ndcg = quality(run, run, student_row=True)
        rows.append(
            Row(
                f"+ L1 {args.l1_amount:.0%} unstructured, int8 ONNX (same speed)",
                float("nan"),
                float("nan"),
                float("nan"),
                l1_size,
                cos,
                ndcg,
            )
        )

    for backend in ("torchscript", "onnx"):
        one = load_artifact_encoder(args.artifact, threads=1, backend=backend)
        p50, p99 = latency(lambda q, one=one: one.encode_queries([q]), timed)
        two = load_artifact_encoder(args.artifact, threads=2, backend=backend)
        tps = throughput(
            lambda t, two=two: np.concatenate(list(two.encode_documents(t, 64))), sample_titles
        )
        cos, ndcg = quality(
            lambda t, one=one: np.concatenate([one.encode_queries([x]) for x in t]),
            lambda t, two=two: np.concatenate(list(two.encode_documents(t, 64))),
        )
        file = "model.pt" if backend == "torchscript" else "model.onnx"
        size = (
            (args.artifact / file).stat().st_size
            + (args.artifact / "tokenizer.json").stat().st_size
        ) / 1e6
        rows.append(Row(f"int8 {backend} (artifact)", p50, p99, tps, size, cos, ndcg))

    print(
        f"corpus: {labels.name} ({len(titles)} titles, {len(query_texts)} queries); "
        f"artifact {args.artifact} = {dir_mb(args.artifact):.1f} MB total"
    )
    print(
        f"{'encoder':<52} {'p50 ms':>7} {'p99 ms':>7} {'titles/s':>9} {'MB':>6} "
        f"{'cos med':>8} {'nDCG@10':>8}"
    )
    for r in rows:
        nd = f"{r.ndcg:.4f}" if r.ndcg is not None else "-"
        print(
            f"{r.name:<52} {r.p50_ms:>7.3f} {r.p99_ms:>7.3f} {r.titles_per_s:>9.0f} "
            f"{r.size_mb:>6.1f} {r.cosine:>8.4f} {nd:>8}"
        )
    teacher_p50 = rows[0].p50_ms
    for r in rows[1:]:
        if r.p50_ms == r.p50_ms:
            print(f"speed-up vs teacher, {r.name}: {teacher_p50 / r.p50_ms:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
