"""`tinyseek eval`, `tinyseek eval-gate`, `tinyseek tune-fusion`, `tinyseek labels` and
`tinyseek quality`: score labelled queries, write a report, gate against a baseline, sweep
hybrid fusion weights, attach reference labels to an index, show its quality history.

Heavy imports stay inside the command functions so `tinyseek --help` stays fast.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from tinyseek.errors import EXIT_REJECTS, exit_codes_help
from tinyseek.extras import require

log = logging.getLogger(__name__)

DATASET_HELP = (
    "'sample' (the packaged sample data), 'homedepot' or 'nfcorpus' (in $TINYSEEK_DATA, "
    "else ../shared/data; $TINYSEEK_HOMEDEPOT also locates homedepot), or a BEIR folder "
    "(corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)"
)
EVAL_DATASET_HELP = (
    DATASET_HELP + ", or an index directory with labels attached (tinyseek labels attach): "
    "its served generation is scored on them, as the publish check and the service score it"
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


ATTACH_CODES = exit_codes_help(
    (0, 1, 2, 4, 5, 6, 8), {1: "attached, but some rows were rejected (see --rejects)"}
)


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
    parser.add_argument("dataset", help=EVAL_DATASET_HELP)
    parser.add_argument("--modes", default="bm25,dense,hybrid", help="comma-separated modes")
    parser.add_argument(
        "--all-queries",
        action="store_true",
        help="with an index directory: score every attached labelled query, not the fixed "
        "sample the publish check and the service score",
    )
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

    labels = sub.add_parser(
        "labels",
        help="attach reference labels (judgements or a click log) to an index: the quality guard",
        description="Labels travel with the index directory (INDEX_DIR/quality/labels.json): "
        "every new generation is scored on them before it is published and refused when "
        "F1@10 or nDCG@10 falls by more than the tolerance; the service reports them.",
        epilog=ATTACH_CODES,
    )
    actions = labels.add_subparsers(dest="labels_command", required=True, metavar="ACTION")
    attach = actions.add_parser(
        "attach",
        help="store labels with an index (validated against its catalog) and score it",
        description=LABELS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=ATTACH_CODES,
    )
    attach.add_argument("index_dir")
    attach.add_argument("file", help="judgements or click log (.csv, .tsv, .jsonl, .parquet)")
    kind = attach.add_mutually_exclusive_group()
    kind.add_argument("--clicks", action="store_true", help="the file is a click log")
    kind.add_argument("--judgements", action="store_true", help="the file holds grades")
    attach.add_argument(
        "--grade-min",
        type=float,
        default=0.0,
        help="the grade meaning 'not relevant': gain = grade - this (default 0)",
    )
    attach.add_argument(
        "--relevant-at",
        type=float,
        default=None,
        help="relevant for F1/P/R/MRR when gain >= this (default: half the highest gain)",
    )
    attach.add_argument(
        "--min-views",
        type=int,
        default=5,
        help="click logs: pairs seen fewer times are left unjudged (default 5)",
    )
    attach.add_argument(
        "--sample",
        type=int,
        default=None,
        help="queries scored per evaluation, a fixed sample (default 500; 0 = all)",
    )
    attach.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="relative drop of F1@10 or nDCG@10 that refuses a publish (default 0.03)",
    )
    attach.add_argument("--format", choices=["jsonl", "csv", "tsv", "parquet"])
    attach.add_argument("--encoding", help="text encoding of CSV/TSV (default: detected)")
    attach.add_argument("--rejects", metavar="FILE", help="write rejected rows here (JSON lines)")
    attach.add_argument("--wait", type=float, default=30.0, help="wait for another writer")
    attach.set_defaults(func=run_labels_attach)
    detach = actions.add_parser(
        "detach",
        help="remove an index's labels (no more gating)",
        epilog=exit_codes_help((0, 2, 4, 8)),
    )
    detach.add_argument("index_dir")
    detach.add_argument("--wait", type=float, default=30.0, help="wait for another writer")
    detach.set_defaults(func=run_labels_detach)

    quality = sub.add_parser(
        "quality",
        help="an index's quality history on its reference labels: table and PNG plot",
        epilog=exit_codes_help((0, 2, 5, 8)),
    )
    quality.add_argument("index_dir")
    quality.add_argument("--last", type=int, default=40, help="entries shown (default 40)")
    quality.add_argument(
        "--plot", default=None, help="PNG to write (default INDEX_DIR/quality/history.png)"
    )
    quality.add_argument("--no-plot", action="store_true", help="print the table only")
    quality.add_argument("--mode", choices=MODES, default="hybrid", help="configuration plotted")
    quality.set_defaults(func=run_quality)


LABELS_DESCRIPTION = """\
Judgements: rows of query, product_id, grade (CSV/TSV with a header, JSON Lines or
Parquet; optional query_id). Any numeric scale: gain = grade - --grade-min; relevant
when gain >= --relevant-at (default half the highest gain: 2-3 of 0-3, 1-2 of 0-2).
Repeated (query, product) rows, e.g. one per rater, are averaged.

Click logs: rows of query, product_id, action, timestamp [, position]; actions view
(an impression), click, add_to_cart, purchase. Graded 0-3 by clicks over expected
clicks: engagement (click 1, add_to_cart 2, purchase 3) over what an average product
earned at the positions this one was shown at (ratio >= 2: 3, >= 1: 2, >= 0.5: 1);
relevant means grade >= 2. Position bias is corrected when positions are logged.

Bad rows are reported with their line and skipped. Judgements of products the index's
catalog does not hold are left out and reported. The served generation is scored on
the labels right away: the first baseline.
"""


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
    if (Path(args.dataset) / "CURRENT").is_file():
        return run_eval_index(args, modes)
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


def run_eval_index(args: argparse.Namespace, modes: list[str]) -> int:
    """`tinyseek eval INDEX_DIR`: the served generation on its attached labels, through the
    harness's own runner (the numbers the publish check and the service report)."""
    import dataclasses
    from datetime import datetime, timezone
    from pathlib import Path

    from tinyseek.eval.beir import LabelledQuery, LabelledSet
    from tinyseek.eval.datasets import DatasetSpec
    from tinyseek.eval.gate import load_report
    from tinyseek.eval.report import REPORT_FILE, build_report, markdown_table, write_report
    from tinyseek.eval.runner import run_engine_config
    from tinyseek.indexer.quality import load_labels

    index_dir = Path(args.dataset)
    labels = load_labels(index_dir)
    if labels is None:
        raise ValueError(
            f"{index_dir} has no reference labels; attach some with "
            "`tinyseek labels attach INDEX_DIR FILE`"
        )
    if not args.no_plots:
        require("eval", "matplotlib", alternative="pass --no-plots")
    chosen = sorted(labels.queries, key=lambda q: q.query_id) if args.all_queries else None
    queries = chosen or labels.sampled()
    labelled = LabelledSet(
        index_dir.name,
        index_dir,
        [LabelledQuery(q.query_id, q.text, q.gains) for q in queries],
        labels.relevance_threshold,
    )
    baseline = load_report(args.baseline) if args.baseline else None
    weights = parse_weights(args.weights)
    results = []
    for mode in modes:
        result = run_engine_config(
            index_dir, labelled, mode, None, "", args.k, weights=weights,
            threads=args.threads, progress=not args.quiet, spell=not args.no_spell,
        )  # fmt: skip
        results.append(dataclasses.replace(result, name=mode))
    split = f"labels-{labels.digest}" + ("-all" if args.all_queries else "")
    spec = DatasetSpec(labelled.name, index_dir, split, 0.0, labels.relevance_threshold)
    report = build_report(spec, len(queries), results, ["index"], args.k, args.threads)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else Path("runs") / "eval" / f"{index_dir.name}-{stamp}"
    written = write_report(out, report, results, plots=not args.no_plots)
    print(markdown_table(report))
    print(f"report: {', '.join(str(p) for p in written)}")
    return judge(out / REPORT_FILE, report, baseline, args.tolerance, args.promote_to)


def run_labels_attach(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from tinyseek.eval.labels import read_reference
    from tinyseek.indexer.quality import attach_labels

    if args.min_views < 1:
        raise ValueError(f"--min-views must be >= 1, got {args.min_views}")
    if args.wait < 0:
        raise ValueError(f"--wait must be >= 0, got {args.wait:g}")
    labels, rejects = read_reference(
        args.file,
        clicks=True if args.clicks else False if args.judgements else None,
        grade_min=args.grade_min,
        relevant_at=args.relevant_at,
        min_views=args.min_views,
        fmt=args.format,
        encoding=args.encoding,
    )
    policy = {
        key: value
        for key, value in (("sample", args.sample), ("tolerance", args.tolerance))
        if value is not None
    }
    labels = dataclasses.replace(labels, **policy)
    if rejects:
        where = f"; details in {args.rejects}" if args.rejects else ""
        first = f"line {rejects[0].line}: {rejects[0].reason}"
        print(f"{len(rejects)} rows rejected (first: {first}){where}")
        if args.rejects:
            with Path(args.rejects).open("w", encoding="utf-8") as fh:
                fh.writelines(r.to_json() + "\n" for r in rejects)
    attached = attach_labels(args.index_dir, labels, lock_wait=args.wait)
    kept = attached.labels
    judged = sum(len(q.gains) for q in kept.queries)
    relevant = sum(len(kept.relevant(q)) for q in kept.queries)
    print(
        f"attached {len(kept.queries)} queries, {judged} judgements ({relevant} relevant at "
        f"gain >= {kept.relevance_threshold:g}) from {kept.source}; gate: tolerance "
        f"{kept.tolerance:.0%}, {attached.report.queries} sampled queries per evaluation"
    )
    if attached.unknown:
        print(
            f"{len(attached.unknown)} judged product ids are not in the catalog and were left "
            f"out ({', '.join(attached.unknown[:5])}{'...' if len(attached.unknown) > 5 else ''})"
            + (f"; {attached.dropped_queries} queries had no other judgement"
               if attached.dropped_queries else "")
        )  # fmt: skip
    print(f"baseline {attached.report.summary()} ({attached.report.seconds:.1f} s)")
    return EXIT_REJECTS if rejects else 0


def run_labels_detach(args: argparse.Namespace) -> int:
    from tinyseek.indexer.quality import detach_labels

    removed = detach_labels(args.index_dir, lock_wait=args.wait)
    print("labels detached" if removed else f"{args.index_dir} had no labels")
    return 0


def run_quality(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tinyseek.eval.history import HISTORY_PNG, history_table, plot_history
    from tinyseek.indexer.quality import QUALITY_DIR, load_labels, read_history
    from tinyseek.search.layout import served_generation_name

    index_dir = Path(args.index_dir)
    if not (index_dir / "CURRENT").is_file():
        raise FileNotFoundError(f"{index_dir} is not a tinyseek index (no CURRENT)")
    if not args.no_plot:
        require("eval", "matplotlib", alternative="pass --no-plot")
    labels = load_labels(index_dir)
    entries = read_history(index_dir, limit=args.last)
    if labels is not None:
        print(f"labels: {len(labels.queries)} queries from {labels.source}; tolerance "
              f"{labels.tolerance:.0%}; {len(labels.sampled())} scored per evaluation")  # fmt: skip
    else:
        print("labels: none attached (tinyseek labels attach INDEX_DIR FILE)")
    if not entries:
        print("no evaluations yet")
        return 0
    print(history_table(entries, served_generation_name(index_dir)))
    if not args.no_plot:
        path = Path(args.plot) if args.plot else index_dir / QUALITY_DIR / HISTORY_PNG
        print(f"plot: {plot_history(entries, path, args.mode)}")
    return 0
