"""`tinyseek eval sample` end to end with the real teacher: report files, metrics, filters, gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tinyseek.cli import main
from tinyseek.search.relevance import metric_names

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"
MODES = ("bm25", "dense", "hybrid")

pytestmark = pytest.mark.skipif(
    not (SAMPLE / "qrels" / "test.tsv").is_file(), reason="sample_data/ labels are not there yet"
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory, teacher: Any) -> Path:
    """The sample index, built once through the harness's cache."""
    from tinyseek.eval.index_cache import ensure_index

    cache = tmp_path_factory.mktemp("eval-cache")
    ensure_index(SAMPLE / "corpus.jsonl", "sample", teacher, "teacher", cache, progress=False)
    return cache


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("eval-report")
    args = ["eval", "sample", "--encoders", "teacher", "--out", str(out)]
    args += ["--cache-dir", str(cache_dir), "--quiet"]
    assert main(args) == 0
    return out


def test_index_cache_is_reused(cache_dir: Path, teacher: Any) -> None:
    from tinyseek.eval.index_cache import KEY_FILE, ensure_index

    [built] = [p for p in cache_dir.iterdir() if p.is_dir()]
    stamp = (built / KEY_FILE).stat().st_mtime_ns
    again = ensure_index(SAMPLE / "corpus.jsonl", "sample", teacher, "teacher", cache_dir)
    assert again == built
    assert (built / KEY_FILE).stat().st_mtime_ns == stamp
    assert built.name.startswith("sample-all-MiniLM-L6-v2-")


def test_report_files_and_metrics(report_dir: Path) -> None:
    for name in ("report.json", "report.md", "per_query.jsonl"):
        assert (report_dir / name).stat().st_size > 0
    for name in ("quality_latency.png", "per_query_ndcg.png"):
        assert (report_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((report_dir / "report.json").read_text())
    assert report["dataset"]["name"] == "sample" and report["dataset"]["split"] == "test"
    assert report["machine"]["cpu_count"] >= 1 and report["timestamp"]
    assert report["encoders"] == ["teacher"]
    assert set(report["configs"]) == {"bm25", "dense/teacher", "hybrid/teacher"}
    queries = report["dataset"]["queries"]
    for config in report["configs"].values():
        assert config["mode"] in MODES
        assert config["queries"] == queries
        for metric in metric_names(10, 100):
            assert 0.0 <= config["metrics"][metric] <= 1.0, metric
        assert 0 < config["latency_ms"]["p50"] <= config["latency_ms"]["p99"]
    # The teacher finds the sample's paraphrased products far better than chance.
    assert report["configs"]["dense/teacher"]["metrics"]["ndcg@10"] > 0.3
    markdown = (report_dir / "report.md").read_text()
    assert "| hybrid/teacher |" in markdown and "ndcg@10" in markdown


def test_filtered_queries_are_filtered(report_dir: Path) -> None:
    products = {
        row["_id"]: row
        for row in map(json.loads, (SAMPLE / "corpus.jsonl").read_text().splitlines())
        if row
    }
    queries = {
        row["_id"]: row
        for row in map(json.loads, (SAMPLE / "queries.jsonl").read_text().splitlines())
        if row
    }
    rows = [json.loads(line) for line in (report_dir / "per_query.jsonl").read_text().splitlines()]
    checked = 0
    for row in rows:
        filters = queries[row["query_id"]].get("filters") or {}
        for doc_id in row["top"]:
            product = products[doc_id]
            if "price_max" in filters:
                assert product["price"] <= filters["price_max"]
            if "brand" in filters:
                assert product["brand"].lower() == filters["brand"].lower()
            if "in_stock" in filters:
                assert product["in_stock"] == filters["in_stock"]
            if "rating_min" in filters:
                assert product["rating"] >= filters["rating_min"]
            checked += bool(filters)
    assert checked > 0, "no filtered query returned results"


def test_gate_through_eval_command(
    report_dir: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = json.loads((report_dir / "report.json").read_text())
    baseline["configs"]["bm25"]["metrics"]["ndcg@10"] *= 1.10
    inflated = tmp_path / "baseline.json"
    inflated.write_text(json.dumps(baseline))
    last_good = tmp_path / "last-good.json"
    common = ["--cache-dir", str(cache_dir), "--quiet", "--no-plots", "--modes", "bm25"]
    common += ["--encoders", "teacher"]
    promote = ["--promote-to", str(last_good)]
    run1 = ["eval", "sample", "--out", str(tmp_path / "run1"), "--baseline", str(inflated)]
    code = main([*run1, *promote, *common])
    out = capsys.readouterr().out
    assert code == 3
    assert "REGRESSION ndcg@10 of bm25" in out
    assert "hybrid/teacher" in out  # listed as not judged
    assert not last_good.exists()

    real = str(report_dir / "report.json")
    run2 = ["eval", "sample", "--out", str(tmp_path / "run2"), "--baseline", real]
    code = main([*run2, *promote, *common])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "gate passed" in out
    assert not last_good.exists()  # a bm25-only run never replaces a full baseline
    assert "lacks baseline configurations" in out
