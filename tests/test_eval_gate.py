"""BEIR loader on a tiny folder made here, dataset resolution, and the regression gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tinyseek.cli import main
from tinyseek.eval.beir import load_beir
from tinyseek.eval.cli import parse_weights
from tinyseek.eval.datasets import resolve_dataset
from tinyseek.eval.gate import EXIT_INCOMPARABLE, EXIT_PASS, EXIT_REGRESSION, compare_reports


def write_beir(root: Path, split: str = "test") -> Path:
    (root / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"p{i}", "title": f"product {i}", "text": ""} for i in range(4)]
    queries = [
        {"_id": "q1", "text": "sofa", "kind": "head"},
        {"_id": "q2", "text": "cheap lamp", "kind": "filtered", "filters": {"price_max": 50}},
        {"_id": "q3", "text": "only unjudged"},
        {"_id": "q4", "text": "all irrelevant"},
    ]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n\n")
    qrels = "query-id\tcorpus-id\tscore\nq1\tp0\t3\nq1\tp1\t2\nq2\tp2\t2.5\nq2\tp3\t1\nq4\tp0\t1\n"
    (root / "qrels" / f"{split}.tsv").write_text(qrels)
    return root


def test_loader_reads_grades_filters_and_drops_unlabelled(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "tiny")
    labelled = load_beir(root, gain_offset=1.0, relevance_threshold=1.5)
    # q3 has no judgement; q4's only judgement has gain 0 but it still counts (nDCG 0).
    assert [q.query_id for q in labelled.queries] == ["q1", "q2", "q4"]
    assert labelled.queries[2].qrels == {"p0": 0.0}
    dropped = load_beir(root, gain_offset=1.0, relevance_threshold=1.5, drop_zero_gain=True)
    assert [q.query_id for q in dropped.queries] == ["q1", "q2"]
    q1, q2 = labelled.queries[:2]
    assert q1.qrels == {"p0": 2.0, "p1": 1.0}
    assert q1.kind == "head" and q1.filters == {}
    assert q2.filters == {"price_max": 50}
    assert q2.qrels == {"p2": 1.5, "p3": 0.0}
    assert labelled.relevance_threshold == 1.5
    assert labelled.corpus_path == root / "corpus.jsonl"


def test_loader_names_missing_files(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "tiny")
    with pytest.raises(FileNotFoundError, match=r"missing dev\.tsv"):
        load_beir(root, split="dev")


def test_resolve_dataset_conventions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_beir(tmp_path / "hd", split="dev")
    monkeypatch.setenv("TINYSEEK_HOMEDEPOT", str(root))
    hd = resolve_dataset("homedepot")
    assert (hd.name, hd.split, hd.gain_offset, hd.relevance_threshold) == (
        "homedepot",
        "dev",
        1,
        1.5,
    )
    # relevant = score >= 2.5: q1/p0 (3) and q2/p2 (2.5), not q1/p1 (2).
    relevant = {q.query_id: {d for d, g in q.qrels.items() if g >= 1.5} for q in hd.load().queries}
    assert relevant == {"q1": {"p0"}, "q2": {"p2"}, "q4": set()}
    plain = resolve_dataset(str(root), split="dev", relevance_threshold=3)
    assert (plain.name, plain.gain_offset, plain.relevance_threshold) == ("hd", 0.0, 3)
    assert resolve_dataset("sample").root.name == "sample_data"
    with pytest.raises(
        FileNotFoundError, match="neither one of sample, homedepot, nfcorpus nor a BEIR folder"
    ):
        resolve_dataset(str(tmp_path / "nowhere"))


def test_parse_weights() -> None:
    assert parse_weights("bm25=2,dense=1,method=convex") == {
        "bm25": 2.0,
        "dense": 1.0,
        "method": "convex",
    }
    assert parse_weights(None) is None
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_weights("alpha=1")


def report(configs: dict[str, tuple[float, float]], name: str = "sample") -> dict[str, Any]:
    return {
        "format": 1,
        "dataset": {"name": name, "split": "test"},
        "k": 10,
        "configs": {
            c: {"metrics": {"f1@10": f1, "ndcg@10": ndcg}, "latency_ms": {"p50": 1.0}}
            for c, (f1, ndcg) in configs.items()
        },
    }


BASE = {"bm25": (0.20, 0.40), "hybrid/teacher": (0.25, 0.50)}


def test_gate_passes_within_tolerance() -> None:
    current = report({"bm25": (0.195, 0.39), "hybrid/teacher": (0.26, 0.50)})  # -2.5%, -2.5%
    result = compare_reports(current, report(BASE))
    assert result.exit_code == EXIT_PASS and result.passed
    assert result.compared == ["bm25", "hybrid/teacher"]
    assert result.regressions == []


def test_gate_fails_naming_metric_and_config() -> None:
    current = report({"bm25": (0.20, 0.40), "hybrid/teacher": (0.24, 0.50)})  # F1 -4%
    result = compare_reports(current, report(BASE))
    assert result.exit_code == EXIT_REGRESSION
    [regression] = result.regressions
    assert (regression.config, regression.metric) == ("hybrid/teacher", "f1@10")
    assert "f1@10 of hybrid/teacher" in "\n".join(result.lines())
    assert regression.relative_change == pytest.approx(-0.04)
    # A looser tolerance lets the same drop through.
    assert compare_reports(current, report(BASE), tolerance=0.05).passed


def test_gate_missing_configs() -> None:
    current = report({"bm25": (0.20, 0.40), "dense/teacher": (0.01, 0.01)})
    result = compare_reports(current, report(BASE))
    assert result.exit_code == EXIT_PASS  # only bm25 is in both, and it held
    assert result.only_in_baseline == ["hybrid/teacher"]
    assert result.only_in_current == ["dense/teacher"]
    nothing = compare_reports(report({"dense/teacher": (0.3, 0.6)}), report(BASE))
    assert nothing.exit_code == EXIT_INCOMPARABLE
    other = compare_reports(report(BASE, name="homedepot"), report(BASE))
    assert other.exit_code == EXIT_INCOMPARABLE and "dataset name differs" in other.problem
    fewer = report(BASE)
    fewer["dataset"]["queries"] = 10  # a --limit-queries run is not judged against a full one
    assert compare_reports(fewer, report(BASE)).exit_code == EXIT_INCOMPARABLE


def test_gate_command_exit_codes_and_promotion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.json"
    bad = tmp_path / "bad.json"
    last_good = tmp_path / "keep" / "last-good.json"
    good.write_text(json.dumps(report(BASE)))
    bad.write_text(json.dumps(report({**BASE, "bm25": (0.20, 0.30)})))

    assert (
        main(["eval-gate", str(good), "--baseline", str(good), "--promote-to", str(last_good)]) == 0
    )
    assert json.loads(last_good.read_text()) == report(BASE)

    code = main(
        ["eval-gate", str(bad), "--baseline", str(last_good), "--promote-to", str(last_good)]
    )
    out = capsys.readouterr().out
    assert code == 3
    assert "REGRESSION ndcg@10 of bm25" in out and "not promoted" in out
    assert json.loads(last_good.read_text()) == report(BASE)  # last good kept

    assert main(["eval-gate", str(good), "--baseline", str(tmp_path / "absent.json")]) == 2
