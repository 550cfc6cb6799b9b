"""Regression gate: compare a report with a baseline report, keep the last good one.

The gate compares F1@k and nDCG@k of every configuration present in both reports
(configurations are named `bm25`, `dense/<encoder>`, `hybrid/<encoder>`). It fails
when any of them falls by more than `tolerance` (3%) relative to the baseline.

Exit codes of `tinyseek eval ... --baseline REPORT.json`:
  0  gate passed (configurations missing from either side are listed, not judged)
  3  regression: each failing metric and configuration is printed
  4  nothing comparable: different dataset, split, query count (--limit-queries) or k,
     or no configuration in common

Daily check (cron or CI, one line; the deploy step runs only when it exits 0):

    tinyseek eval homedepot --encoders teacher,artifacts/current \\
        --out runs/eval/$(date +%F) \\
        --baseline /var/lib/tinyseek/last-good.json \\
        --promote-to /var/lib/tinyseek/last-good.json

- `--promote-to FILE` replaces FILE with the new report (atomically) only when
  the gate passed and the run covers every configuration of the baseline (a
  partial run is judged but never promoted), so FILE always holds the last good
  report and the next day is judged against it, not against a day that already
  regressed. Without
  `--baseline` the report is promoted unconditionally: that is how the first
  baseline is made.
- On exit 3 the previous model artifact and index generation stay in service
  (keep the last good model/index): the job that would publish the new ones is
  skipped, and the printed lines name the metric and configuration that fell.
- Tuning that is meant to move the numbers (a new encoder, new weights) is
  accepted by re-running with `--promote-to` and no `--baseline`, deliberately.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyseek.indexer.quality import DEFAULT_TOLERANCE, find_drops

EXIT_PASS = 0
EXIT_REGRESSION = 3
EXIT_INCOMPARABLE = 4


@dataclass(frozen=True)
class Regression:
    config: str
    metric: str
    baseline: float
    current: float

    @property
    def relative_change(self) -> float:
        return (self.current - self.baseline) / self.baseline

    def __str__(self) -> str:
        return (
            f"REGRESSION {self.metric} of {self.config}: {self.current:.4f} vs baseline "
            f"{self.baseline:.4f} ({self.relative_change:+.1%})"
        )


@dataclass(frozen=True)
class GateResult:
    exit_code: int
    regressions: list[Regression] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)
    only_in_baseline: list[str] = field(default_factory=list)
    only_in_current: list[str] = field(default_factory=list)
    problem: str = ""

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_PASS

    def lines(self) -> list[str]:
        out = [str(r) for r in self.regressions]
        if self.problem:
            out.append(f"GATE CANNOT COMPARE: {self.problem}")
        if self.only_in_baseline:
            out.append("not in this run (not judged): " + ", ".join(self.only_in_baseline))
        if self.only_in_current:
            out.append("new, no baseline (not judged): " + ", ".join(self.only_in_current))
        verdict = {
            EXIT_PASS: "gate passed",
            EXIT_REGRESSION: "gate FAILED",
            EXIT_INCOMPARABLE: "gate FAILED (incomparable)",
        }[self.exit_code]
        out.append(f"{verdict}: compared {len(self.compared)} configuration(s)")
        return out


def gate_metrics(k: int) -> tuple[str, str]:
    return (f"f1@{k}", f"ndcg@{k}")


def compare_reports(
    current: Mapping[str, Any],
    baseline: Mapping[str, Any],
    tolerance: float = DEFAULT_TOLERANCE,
    metrics: Sequence[str] | None = None,
) -> GateResult:
    """Judge `current` against `baseline` (both report.json dicts)."""
    for key in ("name", "split", "queries"):
        if current["dataset"].get(key) != baseline["dataset"].get(key):
            return GateResult(
                EXIT_INCOMPARABLE,
                problem=f"dataset {key} differs: {current['dataset'].get(key)!r} vs baseline "
                f"{baseline['dataset'].get(key)!r}",
            )
    if current["k"] != baseline["k"]:
        return GateResult(
            EXIT_INCOMPARABLE, problem=f"k differs: {current['k']} vs baseline {baseline['k']}"
        )
    metrics = list(metrics or gate_metrics(int(current["k"])))
    cur, base = current["configs"], baseline["configs"]
    compared = [name for name in base if name in cur]
    only_base = [name for name in base if name not in cur]
    only_cur = [name for name in cur if name not in base]
    if not compared:
        return GateResult(
            EXIT_INCOMPARABLE,
            only_in_baseline=only_base,
            only_in_current=only_cur,
            problem="no configuration in common with the baseline",
        )
    drops = find_drops(
        {name: cur[name]["metrics"] for name in compared},
        {name: base[name]["metrics"] for name in compared},
        tolerance,
        metrics,
    )
    regressions = [Regression(d.config, d.metric, d.baseline, d.current) for d in drops]
    return GateResult(
        EXIT_REGRESSION if regressions else EXIT_PASS,
        regressions=regressions,
        compared=compared,
        only_in_baseline=only_base,
        only_in_current=only_cur,
    )


def load_report(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"baseline report not found: {path}")
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(report, dict) or "configs" not in report or "dataset" not in report:
        raise ValueError(f"{path} is not a tinyseek eval report (no 'configs' / 'dataset')")
    return report


def promote(report_path: Path, target: Path) -> None:
    """Copy the report over `target` atomically (temporary sibling, fsync, rename)."""
    from tinyseek.indexer.generations import write_atomic

    target.parent.mkdir(parents=True, exist_ok=True)
    data = report_path.read_bytes()
    write_atomic(target, lambda tmp: tmp.write_bytes(data))
