"""`tinyseek eval`, `tinyseek eval-gate` and `tinyseek tune-fusion`: score labelled queries,
write a report, gate against a baseline, sweep hybrid fusion weights.

Heavy imports stay inside the command functions so `tinyseek --help` stays fast.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from tinyseek.errors import exit_codes_help
from tinyseek.extras import require

log = logging.getLogger(__name__)

DATASET_HELP = (
    "'sample' (the packaged sample data), 'homedepot' or 'nfcorpus' (in $TINYSEEK_DATA, "
    "else ../shared/data; $TINYSEEK_HOMEDEPOT also locates homedepot), or a BEIR folder "
    "(corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)"
)

MODES = ("bm25", "dense", "hybrid")


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_weights(text: str | None) -> dict[str, Any] | None:
    """`bm25=1,dense=2,method=rrf,rrf_k=60` -> a FusionWeights mapping (partial is fine)."""
    if not text:
        return None
    weights: dict[str, Any] = {}
    for item in _csv(text):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in ("bm25", "dense", "method", "rrf_k", "partial"):
            raise ValueError(
                "--weights expects KEY=VALUE with keys bm25, dense, method, rrf_k, partial; "
                f"got {item!r}"
            )
        weights[key] = value.strip() if key == "method" else float(value)
    return weights


GATE_CODES = {
    3: "gate: F1@k or nDCG@k fell by more than --tolerance",
    4: "gate: nothing in the baseline to compare with",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval",
        help="evaluate search quality and latency on labelled queries",
        description=(
            "Index DATASET (cached), run every labelled query in each mode and with each "
            "encoder, write report.json / report.md / per_query.jsonl / plots into --out, and "
            "optionally gate against a baseline report (exit 3 on a >3% relative drop of "
            "F1@k or nDCG@k, 4 when nothing is comparable)."
        ),
        epilog=exit_codes_help((0, 2, 3, 4, 8), GATE_CODES),
    )
    parser.add_argument("dataset", help=DATASET_HELP)
    parser.add_argument("--modes", default="bm25,dense,hybrid", help="comma-separated modes")
    parser.add_argument(
        "--encoders",
        default="compact",
        help="comma-separated encoder specs: 'compact' (default: the default encoder, as "
        "`tinyseek index` uses), 'teacher', an artifact dir, or a model path",
    )
    parser.add_argument(
        "--baselines",
        action="store_true",
        help="also measure the plain tools in the same run: one-field tantivy BM25, "
        "all-MiniLM-L6-v2 fp32 exact search and their RRF (the teacher needs the train extra)",
    )
    parser.add_argument(
        "--split",
        default=None,
        help="qrels split (default: dev for homedepot and nfcorpus, else test)",
    )
    parser.add_argument("--k", type=int, default=10, help="cut-off for nDCG/F1/P/R/MRR")
    parser.add_argument("--out", default=None, help="report directory (default runs/eval/...)")
    parser.add_argument("--baseline", default=None, help="baseline report.json for the gate")
    parser.add_argument("--tolerance", type=float, default=0.03, help="relative drop allowed")
    parser.add_argument(
        "--promote-to", default=None, help="copy report.json here when the gate passes"
    )
    parser.add_argument("--limit-queries", type=int, default=None, help="first N queries only")
    parser.add_argument(
        "--weights", default=None, help="hybrid fusion, e.g. bm25=1,dense=1,method=rrf"
    )
    parser.add_argument(
        "--relevance-threshold", type=float, default=None, help="binary relevance on gain"
    )
    parser.add_argument("--gain-offset", type=float, default=None, help="gain = score - offset")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--cache-dir", default=None, help="index cache (~/.cache/tinyseek/eval)")
    parser.add_argument(
        "--no-spell", action="store_true", help="search the queries as typed (no spelling fixes)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run_eval)

    gate = sub.add_parser(
        "eval-gate",
        help="judge an eval report against a baseline report (exit 3 on regression)",
        description="Compare two report.json files without re-running the evaluation.",
        epilog=exit_codes_help((0, 2, 3, 4, 8), GATE_CODES),
    )
    gate.add_argument("report", help="report.json of the run to judge")
    gate.add_argument("--baseline", required=True, help="baseline report.json")
    gate.add_argument("--tolerance", type=float, default=0.03, help="relative drop allowed")
    gate.add_argument("--promote-to", default=None, help="copy REPORT here when the gate passes")
    gate.set_defaults(func=run_gate)

    tune = sub.add_parser(
        "tune-fusion",
        help="score a grid of hybrid fusion settings on labelled queries (tune on dev splits)",
        description="Every setting runs every query through Engine.search (top 100), so what "
        "is scored is what the engine serves; prints a table and the best hybrid setting.",
        epilog=exit_codes_help((0, 2, 8)),
    )
    tune.add_argument("dataset", help=DATASET_HELP)
    tune.add_argument(
        "--encoder",
        default="compact",
        help="encoder spec (default: the default encoder, as `tinyseek index` and `eval` use)",
    )
    tune.add_argument("--split", default=None, help="qrels split (default: test; dev for HD)")
    tune.add_argument("--limit-queries", type=int, default=None, help="first N queries only")
    tune.add_argument("--cache-dir", default=None, help="index cache (<home>/eval)")
    tune.add_argument(
        "--threads", type=int, default=None, help="encoder threads (default: all cores)"
    )
    tune.add_argument("--json", default=None, help="also write the results here")
    tune.add_argument(
        "--partial",
        type=float,
        action="append",
        default=[],
        help="also try this BM25 partial-match weight (repeatable)",
    )
    tune.set_defaults(func=run_tune_fusion)


def run_eval(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone
    from pathlib import Path

    from tinyseek.checksums import file_sha256
    from tinyseek.eval.datasets import resolve_dataset
    from tinyseek.eval.gate import load_report
    from tinyseek.eval.report import REPORT_FILE, build_report, markdown_table, write_report
    from tinyseek.eval.runner import run_evaluation
    from tinyseek.models.encoder import check_encoder_spec

    modes = _csv(args.modes)
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f"unknown mode(s) {', '.join(bad) or '(none)'}; valid: {', '.join(MODES)}")
    encoders = _csv(args.encoders)
    if not encoders:
        raise ValueError("--encoders is empty")
    for encoder_spec in encoders:
        check_encoder_spec(encoder_spec)
    if args.baselines:
        check_encoder_spec("teacher")
    if not args.no_plots:
        require("eval", "matplotlib", alternative="pass --no-plots")
    if args.k < 1:
        raise ValueError(f"--k must be >= 1, got {args.k}")
    weights = parse_weights(args.weights)
    baseline = load_report(args.baseline) if args.baseline else None

    spec = resolve_dataset(args.dataset, args.split, args.gain_offset, args.relevance_threshold)
    labelled = spec.load()
    if args.limit_queries is not None:
        labelled = labelled.head(args.limit_queries)
    if not labelled.queries:
        raise ValueError(f"{spec.root}: no labelled queries with a positive gain")
    progress = not args.quiet
    if progress:
        log.info(
            "%s/%s: %d queries; modes %s; encoders %s",
            spec.name,
            spec.split,
            len(labelled.queries),
            modes,
            encoders,
        )
    cache_root = Path(args.cache_dir) if args.cache_dir else None
    results = run_evaluation(
        labelled,
        modes,
        encoders,
        k=args.k,
        cache_root=cache_root,
        threads=args.threads,
        weights=weights,
        progress=progress,
        spell=not args.no_spell,
    )
    if args.baselines:
        from tinyseek.eval.baselines import run_baselines
        from tinyseek.eval.index_cache import default_cache_root
        from tinyseek.indexer.readers import Reject, read_catalog

        products = [p for p in read_catalog(labelled.corpus_path) if not isinstance(p, Reject)]
        cache = (cache_root or default_cache_root()) / "baselines"
        results += run_baselines(labelled, products, cache, k=args.k, progress=progress)
    report = build_report(
        spec,
        len(labelled.queries),
        results,
        encoders,
        args.k,
        args.threads,
        corpus_sha256=file_sha256(labelled.corpus_path),
        limit_queries=args.limit_queries,
    )
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = (
        Path(args.out) if args.out else Path("runs") / "eval" / f"{spec.name}-{spec.split}-{stamp}"
    )
    written = write_report(out, report, results, plots=not args.no_plots)
    print(markdown_table(report))
    print(f"report: {', '.join(str(p) for p in written)}")

    return judge(out / REPORT_FILE, report, baseline, args.tolerance, args.promote_to)


def judge(
    report_path: Any,
    report: dict[str, Any],
    baseline: dict[str, Any] | None,
    tolerance: float,
    promote_to: str | None,
) -> int:
    """Print the gate's verdict, promote the report when it passed; returns the exit code."""
    from pathlib import Path

    from tinyseek.eval.gate import EXIT_PASS, compare_reports, promote

    exit_code = EXIT_PASS
    partial_run = False
    if baseline is not None:
        gate = compare_reports(report, baseline, tolerance=tolerance)
        for line in gate.lines():
            print(line)
        exit_code = gate.exit_code
        partial_run = bool(gate.only_in_baseline)
    if promote_to:
        if exit_code == EXIT_PASS and partial_run:
            print(f"not promoted: this run lacks baseline configurations; {promote_to} is kept")
        elif exit_code == EXIT_PASS:
            promote(Path(report_path), Path(promote_to))
            print(f"promoted {report_path} -> {promote_to}")
        else:
            print(f"not promoted: {promote_to} keeps the last good report")
    return exit_code


def run_gate(args: argparse.Namespace) -> int:
    from tinyseek.eval.gate import load_report

    report = load_report(args.report)
    baseline = load_report(args.baseline)
    return judge(args.report, report, baseline, args.tolerance, args.promote_to)


def run_tune_fusion(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tinyseek.eval.datasets import resolve_dataset
    from tinyseek.eval.index_cache import ensure_index
    from tinyseek.eval.tune_fusion import (
        best_fusion,
        default_grid,
        encode_into_cache,
        score_grid,
        table,
    )
    from tinyseek.models.encoder import check_encoder_spec, load_encoder
    from tinyseek.search.engine import Engine

    check_encoder_spec(args.encoder)
    spec = resolve_dataset(args.dataset, args.split)
    labelled = spec.load()
    if args.limit_queries:
        labelled = labelled.head(args.limit_queries)
    encoder = load_encoder(args.encoder, threads=args.threads)
    cache = Path(args.cache_dir) if args.cache_dir else None
    index_dir = ensure_index(labelled.corpus_path, labelled.name, encoder, args.encoder, cache)
    engine = Engine.open(index_dir, encoder=encoder, cache_size=len(labelled.queries) + 16)
    log.info(
        "%s/%s: %d queries, encoder %s, dense index %s",
        spec.name,
        spec.split,
        len(labelled.queries),
        encoder.name,
        engine.generation.dense.kind,
    )
    encode_into_cache(engine, labelled)
    results = score_grid(engine, labelled, default_grid(partials=args.partial))
    print(table(results))
    best = best_fusion(results)
    print(f"\nbest hybrid by nDCG@10: {best} ({results[best]['ndcg@10']:.4f})")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"dataset": spec.name, "split": spec.split, "results": results}, indent=2)
        )
    return 0
