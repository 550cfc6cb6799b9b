"""Evaluation reports: JSON for machines, Markdown for people, PNG plots.

Files written into the output directory:
  report.json       run context (dataset, split, tinyseek version, the git commit of the
                    current directory when it is a checkout, machine, timestamp) + per-config
                    summary
  report.md         the same as a table
  per_query.jsonl   one row per (configuration, query): metrics, latency, top-k ids
  quality_latency.png, per_query_ndcg.png   (when matplotlib is installed)
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tinyseek import __version__
from tinyseek.eval.datasets import DatasetSpec
from tinyseek.eval.runner import DEEP_K, ConfigResult
from tinyseek.search.relevance import metric_names

REPORT_FORMAT = 1
REPORT_FILE = "report.json"
MARKDOWN_FILE = "report.md"
PER_QUERY_FILE = "per_query.jsonl"
QUALITY_LATENCY_PNG = "quality_latency.png"
DISTRIBUTION_PNG = "per_query_ndcg.png"


def git_commit(repo: Path | None = None) -> dict[str, Any]:
    """HEAD commit of the checkout holding `repo` (default: the current directory) and whether
    it has uncommitted changes; empty when that is no git checkout or git is unavailable."""
    repo = Path.cwd() if repo is None else repo
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": head, "dirty": bool(status.strip())}


def machine_info(threads: int | None) -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch_threads": threads,
    }


def build_report(
    dataset: DatasetSpec,
    queries: int,
    results: Sequence[ConfigResult],
    encoders: Sequence[str],
    k: int,
    threads: int | None,
    corpus_sha256: str = "",
    limit_queries: int | None = None,
) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "dataset": {
            "name": dataset.name,
            "root": str(dataset.root),
            "split": dataset.split,
            "queries": queries,
            "limit_queries": limit_queries,
            "gain_offset": dataset.gain_offset,
            "relevance_threshold": dataset.relevance_threshold,
            "corpus_sha256": corpus_sha256,
        },
        "k": k,
        "deep_k": DEEP_K,
        "encoders": list(encoders),
        "tinyseek": __version__,
        "git": git_commit(),
        "machine": machine_info(threads),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "latency_note": (
            f"wall time of one Engine.search(k={max(k, DEEP_K)}) call per query, cache off, "
            "query encoding included"
        ),
        "configs": {r.name: r.summary() for r in results},
    }


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def markdown_table(report: dict[str, Any]) -> str:
    k, deep_k = report["k"], report["deep_k"]
    names = metric_names(k, deep_k)
    header = ["configuration", *names, "p50 ms", "p95 ms", "p99 ms"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, config in report["configs"].items():
        metrics, latency = config["metrics"], config["latency_ms"]
        cells = [name, *(_fmt(metrics.get(m)) for m in names)]
        cells += [_fmt(latency.get(p), 2) for p in ("p50", "p95", "p99")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_by_kind(report: dict[str, Any]) -> str:
    """nDCG@k / F1@k per query kind and configuration; empty when queries have no kinds."""
    k = report["k"]
    kinds = sorted({kind for c in report["configs"].values() for kind in c.get("by_kind", {})})
    if not kinds:
        return ""
    header = ["configuration", *(f"{kind} nDCG@{k} / F1@{k}" for kind in kinds)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, config in report["configs"].items():
        cells = [name]
        for kind in kinds:
            m = config.get("by_kind", {}).get(kind, {})
            cells.append(f"{_fmt(m.get(f'ndcg@{k}'))} / {_fmt(m.get(f'f1@{k}'))}")
        lines.append("| " + " | ".join(cells) + " |")
    counts = {kind: 0 for kind in kinds}
    for config in report["configs"].values():
        for kind, m in config.get("by_kind", {}).items():
            counts[kind] = int(m.get("queries", 0))
        break
    lines.append("")
    lines.append("queries per kind: " + ", ".join(f"{kd} {n}" for kd, n in counts.items()))
    return "\n".join(lines)


def markdown_report(report: dict[str, Any]) -> str:
    ds, git, machine = report["dataset"], report.get("git", {}), report["machine"]
    commit = git.get("commit", "unknown")[:12] + (" (dirty)" if git.get("dirty") else "")
    lines = [
        f"# tinyseek evaluation: {ds['name']} / {ds['split']}",
        "",
        f"- queries: {ds['queries']}"
        + (f" (limited to the first {ds['limit_queries']})" if ds.get("limit_queries") else ""),
        f"- labels: gain = score - {ds['gain_offset']:g}; relevant = gain >= "
        f"{ds['relevance_threshold']:g}",
        f"- encoders: {', '.join(report['encoders'])}",
        f"- commit: {commit}",
        f"- machine: {machine['cpu_count']} CPUs, {machine['platform']}, "
        f"torch threads {machine['torch_threads']}",
        f"- timestamp: {report['timestamp']}",
        f"- latency: {report['latency_note']}",
        *(
            f"- {name}: dense index {c.get('index_kind') or '-'}"
            + (f", fusion {json.dumps(c['weights'], sort_keys=True)}" if c.get("weights") else "")
            for name, c in report["configs"].items()
            if c["mode"] != "bm25"
        ),
        "",
        markdown_table(report),
        "",
        markdown_by_kind(report),
        "",
        "nDCG uses graded gain over every judged query (0 when none has a positive gain); "
        "the binary metrics average over queries with at least one relevant product.",
        "",
    ]
    return "\n".join(lines)


def write_per_query(path: Path, results: Sequence[ConfigResult], k: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for config in results:
            for row in config.queries:
                record = {
                    "config": config.name,
                    "query_id": row.query_id,
                    "kind": row.kind,
                    "latency_ms": round(row.latency_ms, 4),
                    **row.metrics,
                    "top": row.ranked[:k],
                }
                fh.write(json.dumps(record) + "\n")


def write_report(
    out_dir: Path,
    report: dict[str, Any],
    results: Sequence[ConfigResult],
    plots: bool = True,
) -> list[Path]:
    """Write every report file into out_dir; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / REPORT_FILE, out_dir / MARKDOWN_FILE, out_dir / PER_QUERY_FILE]
    written[0].write_text(json.dumps(report, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    written[1].write_text(markdown_report(report), encoding="utf-8")
    write_per_query(written[2], results, report["k"])
    if plots:
        written += plot_report(out_dir, report, results)
    return written


def plot_report(
    out_dir: Path, report: dict[str, Any], results: Sequence[ConfigResult]
) -> list[Path]:
    """Quality against p50 latency per configuration, and the per-query nDCG distribution."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "plots need matplotlib: pip install 'tinyseek[eval]' (or pass --no-plots)"
        ) from exc

    k = report["k"]
    ndcg, f1 = f"ndcg@{k}", f"f1@{k}"
    title = f"{report['dataset']['name']} / {report['dataset']['split']}"

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for metric, marker in ((ndcg, "o"), (f1, "s")):
        xs = [c.latency_ms["p50"] for c in results]
        ys = [c.metrics.get(metric, math.nan) for c in results]
        ax.scatter(xs, ys, marker=marker, label=metric)
        for c, x, y in zip(results, xs, ys):
            ax.annotate(c.name, (x, y), textcoords="offset points", xytext=(5, 3), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency per query (ms, log scale)")
    ax.set_ylabel("quality")
    ax.set_title(f"Quality against latency: {title}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    quality_path = out_dir / QUALITY_LATENCY_PNG
    fig.savefig(quality_path, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    data = [[q.metrics.get(ndcg) or 0.0 for q in c.queries] for c in results]
    if data:
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(results) + 1), [c.name for c in results], fontsize=8)
    ax.set_ylabel(f"per-query {ndcg}")
    ax.set_title(f"Per-query {ndcg} distribution: {title}")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    distribution_path = out_dir / DISTRIBUTION_PNG
    fig.savefig(distribution_path, dpi=110)
    plt.close(fig)
    return [quality_path, distribution_path]
