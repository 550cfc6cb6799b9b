"""`tinyseek quality INDEX_DIR`: an index's quality history as a table and a PNG plot.

The history is `INDEX_DIR/quality/history.jsonl` (`tinyseek.indexer.quality`): one
report per evaluation (publish checks, updates, the service's runs) and one entry per
action (an automatic rollback, an alarm).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tinyseek.indexer.quality import MODES

HISTORY_PNG = "history.png"
VERDICT_STYLE = {
    "attached": ("tab:blue", "D"),
    "passed": ("tab:green", "o"),
    "updated": ("tab:green", "."),
    "rollback": ("tab:purple", "^"),
    "forced": ("tab:orange", "X"),
    "refused": ("tab:red", "x"),
    "alarm": ("tab:red", "v"),
}


def _metric(entry: Mapping[str, Any], mode: str, metric: str) -> float:
    value = entry.get("configs", {}).get(mode, {}).get(metric)
    return float(value) if isinstance(value, (int, float)) else math.nan


def history_table(entries: Sequence[Mapping[str, Any]], served: str | None = None) -> str:
    """One line per report (nDCG@10 / F1@10 of each configuration) and per action."""
    header = f"{'':1} {'generation':<14} {'rev':>4} {'event':<8} {'verdict':<16} " + " ".join(
        f"{mode + ' nDCG/F1':>17}" for mode in MODES
    )
    lines = [header, "-" * len(header)]
    for e in entries:
        if e.get("kind") == "report":
            verdict = str(e.get("verdict", "")) + (" (--force)" if e.get("forced") else "")
            cells = " ".join(
                f"{_metric(e, m, 'ndcg@10'):>8.4f}/{_metric(e, m, 'f1@10'):<8.4f}" for m in MODES
            )
            mark = "*" if e.get("generation") == served else " "
            lines.append(
                f"{mark} {e.get('generation', ''):<14} {e.get('revision', 0):>4} "
                f"{e.get('event', ''):<8} {verdict:<16} {cells}"
            )
        elif e.get("kind") == "rollback":
            lines.append(
                f"  -> automatic rollback {e.get('from')} -> {e.get('to')}: {e.get('why')}"
            )
        elif e.get("kind") == "alarm":
            drops = "; ".join(
                f"{d['metric']} of {d['config']} {d['baseline']:.4f}->{d['current']:.4f}"
                for d in e.get("drops", [])
            )
            lines.append(f"  !! alarm on {e.get('generation')}: {drops}")
        elif e.get("kind") == "detach":
            lines.append("  -- labels detached")
    return "\n".join(lines)


def plot_history(entries: Sequence[Mapping[str, Any]], path: Path, mode: str = MODES[0]) -> Path:
    """nDCG@10 and F1@10 of `mode` over the reports, one marker per verdict."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "the plot needs matplotlib: pip install 'tinyseek[eval]' (or pass --no-plot)"
        ) from exc
    reports = [e for e in entries if e.get("kind") == "report"]
    xs = list(range(len(reports)))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(reports) + 2), 4.5))
    for metric, style in (("ndcg@10", "-"), ("f1@10", "--")):
        ys = [_metric(e, mode, metric) for e in reports]
        ax.plot(xs, ys, style, color="0.55", linewidth=1, label=f"{mode} {metric}")
        for x, y, e in zip(xs, ys, reports):
            color, marker = VERDICT_STYLE.get(str(e.get("verdict")), ("0.3", "o"))
            ax.scatter([x], [y], color=color, marker=marker, zorder=3)
    for x, e in zip(xs, reports):
        if e.get("verdict") in ("refused", "forced", "alarm", "rollback", "attached"):
            ax.annotate(
                str(e.get("verdict")), (x, _metric(e, mode, "ndcg@10")),
                textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7,
            )  # fmt: skip
    labels = [f"{e.get('generation', '')[-3:]}@{e.get('revision', 0)}" for e in reports]
    ax.set_xticks(xs, labels, rotation=60, fontsize=7)
    ax.set_xlabel("generation@revision, in order of evaluation")
    ax.set_ylabel("quality on the reference labels")
    ax.set_title("Quality history (markers: verdict)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
