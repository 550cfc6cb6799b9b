"""The quality guard at publish time: labels attached to an index, every new generation
scored on them, refused (exit 9) when it falls past the tolerance, --force recorded,
in-place updates raising the alarm (exit 10) without dropping writes.

The sample catalog and its labels, with the hashing test encoder (instant, deterministic).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from tests.conftest import SAMPLE
from tests.test_indexer_build import run_cli
from tests.test_indexer_support import HashingEncoder
from tinyseek.indexer.build import build_index
from tinyseek.indexer.generations import collect_garbage, previous_generation
from tinyseek.indexer.guard import QualityRefusedError
from tinyseek.indexer.quality import (
    ReferenceSet,
    attach_labels,
    load_labels,
    publish_report,
    read_history,
)
from tinyseek.search.layout import current_generation
from tinyseek.search.store import DocStore
from tinyseek.search.types import Product


def sample_labels(path: Path, extra: list[tuple[str, str, int]] = ()) -> Path:  # type: ignore[assignment]
    """The sample's labels as one `query, product_id, grade` CSV file."""
    texts = {}
    for line in (SAMPLE / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts[row["_id"]] = row["text"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["query", "product_id", "grade"])
        with (SAMPLE / "qrels" / "test.tsv").open(encoding="utf-8") as qrels:
            for row in csv.reader(qrels, delimiter="\t"):
                if row[0] != "query-id":
                    writer.writerow([texts[row[0]], row[1], row[2]])
        writer.writerows(extra)
    return path


def relevant_ids(labels: ReferenceSet) -> list[str]:
    return sorted({pid for q in labels.queries for pid in labels.relevant(q)})


def hashing_encoder(spec: object = "", **kwargs: object) -> HashingEncoder:
    """Stands in for load_encoder: the hashing encoder an index names (8 or 64 dims)."""
    return HashingEncoder(8, "test-hashing-8") if str(spec).endswith("-8") else HashingEncoder()


@pytest.fixture(autouse=True)
def _hashing_encoders(monkeypatch: pytest.MonkeyPatch) -> None:
    import tinyseek.models.encoder
    import tinyseek.search.engine

    for module in (tinyseek.models.encoder, tinyseek.search.engine):
        monkeypatch.setattr(module, "load_encoder", hashing_encoder)


@pytest.fixture
def guarded(tmp_path: Path, sample_products: list[Product]) -> Path:
    """An index of the sample catalog with the sample's labels attached."""
    index = tmp_path / "index"
    build_index(sample_products, index, HashingEncoder())
    from tinyseek.eval.labels import read_reference

    labels, rejects = read_reference(sample_labels(tmp_path / "labels.csv"))
    assert not rejects
    attach_labels(index, labels)
    return index


def write_catalog(path: Path, products: list[Product]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(p.to_dict()) + "\n" for p in products)
    return path


def degraded(path: Path, products: list[Product], index: Path, share: float = 0.2) -> Path:
    """The catalog with `share` of the labels' relevant products removed."""
    labels = load_labels(index)
    assert labels is not None
    relevant = relevant_ids(labels)
    gone = set(random.Random(1).sample(relevant, int(len(relevant) * share)))
    return write_catalog(path, [p for p in products if p.id not in gone])


def test_attach_validates_against_the_catalog_and_scores_the_served_generation(
    tmp_path: Path,
    sample_products: list[Product],
    monkeypatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    index = tmp_path / "index"
    build_index(sample_products, index, HashingEncoder())
    labels = sample_labels(
        tmp_path / "labels.csv",
        extra=[("couch", "NOT-IN-CATALOG", 2), ("ghost query", "GHOST-1", 2), ("bad", "X", "?")],  # type: ignore[list-item]
    )
    code, out, err = run_cli(monkeypatch, capsys, "labels", "attach", str(index), str(labels))
    assert code == 1, err  # one row rejected (grade '?'), otherwise attached
    assert "1 rows rejected (first: line " in out and "grade must be a number" in out
    assert "2 judged product ids are not in the catalog" in out and "GHOST-1" in out
    assert "1 queries had no other judgement" in out
    stored = load_labels(index)
    assert stored is not None and "GHOST-1" not in stored.judged_ids()
    assert "ghost query" not in {q.text for q in stored.queries}
    report = publish_report(current_generation(index))
    assert report is not None and report.verdict == "attached" and report.event == "attach"
    assert set(report.configs) == {"hybrid", "bm25", "dense"}
    assert 0 < report.metric("ndcg@10") <= 1 and report.queries == len(stored.queries)
    assert [e["verdict"] for e in read_history(index)] == ["attached"]

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("query,product_id,grade\ncouch,NOPE-1,2\nlamp,NOPE-2,1\nsofa,TS-000360,2\n")
    code, _, err = run_cli(monkeypatch, capsys, "labels", "attach", str(index), str(wrong))
    assert code == 2 and "2 of the 3 judged product ids are not in the catalog" in err
    assert load_labels(index) == stored  # nothing was attached


def test_degraded_catalog_is_refused_then_forced(
    guarded: Path,
    tmp_path: Path,
    sample_products: list[Product],
    monkeypatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    served = current_generation(guarded).name
    worse = degraded(tmp_path / "worse.jsonl", sample_products, guarded)
    code, out, err = run_cli(monkeypatch, capsys, "index", str(worse), "--out", str(guarded))
    assert code == 9, err
    assert "refused to publish gen-000002" in err
    assert "f1@10 of hybrid fell" in err and "ndcg@10 of hybrid fell" in err
    assert f"against the served {served}" in err and "--force" in err
    assert current_generation(guarded).name == served  # shoppers never see it
    refused = publish_report(guarded / "gen-000002")
    assert refused is not None and refused.verdict == "refused" and not refused.forced
    drop = next(d for d in refused.drops if (d.config, d.metric) == ("hybrid", "f1@10"))
    assert drop.relative_change < -0.03 and drop.baseline > drop.current

    # --resume --force publishes the refused build as it is: nothing embedded again
    code, out, err = run_cli(
        monkeypatch, capsys, "index", str(worse), "--out", str(guarded), "--resume", "--force"
    )
    assert code == 0, err
    assert "published gen-000002" in out and "(0 embedded by this run" in out
    forced = publish_report(current_generation(guarded))
    assert forced is not None and forced.verdict == "forced" and forced.forced
    assert "publishing gen-000002 although" in err
    assert [e["verdict"] for e in read_history(guarded)] == ["attached", "refused", "forced"]


def test_good_rebuild_passes_and_compact_is_scored(
    guarded: Path,
    tmp_path: Path,
    sample_products: list[Product],
    monkeypatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    catalog = write_catalog(tmp_path / "catalog.jsonl", sample_products)
    code, _, err = run_cli(monkeypatch, capsys, "index", str(catalog), "--out", str(guarded))
    assert code == 0, err
    assert "quality passed: gen-000002@0 on 83 queries" in err
    code, _, err = run_cli(monkeypatch, capsys, "compact", str(guarded))
    assert code == 0, err
    report = publish_report(current_generation(guarded))
    assert report is not None and report.verdict == "passed"
    assert report.baseline == "gen-000002@0"


def test_a_worse_encoder_is_refused(guarded: Path, sample_products: list[Product]) -> None:
    with pytest.raises(QualityRefusedError, match=r"ndcg@10 of dense fell \d+\.\d%"):
        build_index(sample_products, guarded, HashingEncoder(dim=8, name="test-hashing-8"))
    assert current_generation(guarded).name == "gen-000001"


def test_refused_generations_are_no_rollback_target_and_go_at_the_next_publish(
    guarded: Path, tmp_path: Path, sample_products: list[Product]
) -> None:
    worse = degraded(tmp_path / "worse.jsonl", sample_products, guarded)
    from tinyseek.eval.labels import read_reference  # noqa: F401  (labels stay attached)
    from tinyseek.indexer.build import build_catalog

    with pytest.raises(QualityRefusedError):
        build_catalog(worse, guarded, HashingEncoder())
    build_index(sample_products, guarded, HashingEncoder())  # gen-000003, passes
    assert current_generation(guarded).name == "gen-000003"
    assert not (guarded / "gen-000002").exists()  # the refused one went with that publish
    assert previous_generation(guarded).name == "gen-000001"
    assert collect_garbage(guarded, keep=1) == [guarded / "gen-000001"]


def test_update_deleting_relevant_products_raises_the_alarm_and_keeps_the_writes(
    guarded: Path,
    tmp_path: Path,
    monkeypatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    labels = load_labels(guarded)
    assert labels is not None
    couch = next(q for q in labels.queries if q.text == "couch")
    # a product nobody judged, below the 1% threshold: not re-scored
    delta = tmp_path / "delta.jsonl"
    delta.write_text(json.dumps({"id": "NEW-1", "title": "Walnut spice rack"}) + "\n")
    code, out, err = run_cli(monkeypatch, capsys, "update", str(guarded), "--upsert", str(delta))
    assert code == 0, err
    assert "quality: not re-scored: 1 products changed since the last report, none of them" in out

    gone = relevant_ids(labels)[: len(relevant_ids(labels)) // 4] + sorted(labels.relevant(couch))
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(gone) + "\n")
    code, out, err = run_cli(monkeypatch, capsys, "update", str(guarded), "--delete", str(ids))
    assert code == 10, err
    assert "QUALITY ALARM: quality of gen-000001 fell after in-place writes" in out
    assert "'couch' lost" in out and "The writes are kept" in out
    assert "warning: quality of gen-000001 fell" in err  # the WARNING log line
    store = DocStore(current_generation(guarded) / "docs.sqlite")
    try:
        assert all(store.ordinal_of(pid) is None for pid in gone)  # kept: deleted
        assert store.ordinal_of("NEW-1") is not None
    finally:
        store.close()
    publish = publish_report(current_generation(guarded))
    assert publish is not None and publish.verdict == "attached"  # the publish report stays
    manifest = json.loads((current_generation(guarded) / "manifest.json").read_text())
    assert manifest["quality_latest"]["verdict"] == "alarm"
    assert manifest["quality_latest"]["revision"] == 2 and manifest["quality_latest"]["drops"]
    kinds = [(e["kind"], e.get("verdict")) for e in read_history(guarded)]
    assert kinds[-2:] == [("report", "alarm"), ("alarm", None)]


def test_eval_on_the_index_equals_the_recorded_report(
    guarded: Path,
    tmp_path: Path,
    monkeypatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    out_dir = tmp_path / "eval"
    code, out, err = run_cli(
        monkeypatch, capsys, "eval", str(guarded), "--no-plots", "--quiet", "--out", str(out_dir)
    )
    assert code == 0, err
    report = json.loads((out_dir / "report.json").read_text())
    recorded = publish_report(current_generation(guarded))
    assert recorded is not None
    for mode in ("hybrid", "bm25", "dense"):
        for metric in ("ndcg@10", "f1@10", "recall@100", "mrr@10"):
            assert report["configs"][mode]["metrics"][metric] == pytest.approx(
                recorded.configs[mode][metric], abs=1e-6
            ), (mode, metric)
    code, out, err = run_cli(monkeypatch, capsys, "quality", str(guarded), "--no-plot")
    assert code == 0 and "attached" in out and "gen-000001" in out


def test_a_damaged_served_generation_does_not_block_its_repair(
    guarded: Path, sample_products: list[Product]
) -> None:
    served = current_generation(guarded)
    dense = served / "dense.faiss"
    dense.write_bytes(b"\0" * 64 + dense.read_bytes()[64:])
    stats = build_index(sample_products, guarded, HashingEncoder())
    assert current_generation(guarded) == stats.generation != served
    report = publish_report(stats.generation)
    assert report is not None and report.verdict == "passed"
    assert report.baseline == "gen-000001@0"  # judged against its last recorded report


def test_quality_history_plot(
    guarded: Path,
    tmp_path: Path,
    sample_products: list[Product],
    monkeypatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    build_index(sample_products, guarded, HashingEncoder())
    plot = tmp_path / "history.png"
    code, out, err = run_cli(monkeypatch, capsys, "quality", str(guarded), "--plot", str(plot))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("labels: 83 queries from labels.csv")
    assert any(line.startswith("  gen-000001") and "attached" in line for line in lines)
    assert any(line.startswith("* gen-000002") and "passed" in line for line in lines)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"plot: {plot}" in out


@pytest.mark.parametrize("block", [7, 64, 1 << 16])
def test_history_tail_reads_only_the_last_lines(block: int) -> None:
    import io

    from tinyseek.indexer.quality import _tail_lines

    data = b"".join(b'{"n": %d}\n' % i for i in range(1000)) + b'{"torn'
    lines = data.splitlines()
    for limit in (1, 5, 999, 1001, 2000):
        assert _tail_lines(io.BytesIO(data), limit, block) == lines[-limit:]
    assert _tail_lines(io.BytesIO(data), None, block) == lines


def test_gc_keeps_the_last_good_build_whatever_was_forced_since(
    guarded: Path, tmp_path: Path, sample_products: list[Product]
) -> None:
    from tinyseek.indexer.build import build_catalog

    for share in (0.2, 0.4, 0.6):  # each one worse than the one it replaces: forced
        worse = degraded(tmp_path / f"worse-{share}.jsonl", sample_products, guarded, share)
        build_catalog(worse, guarded, HashingEncoder(), keep=1, force=True)
        report = publish_report(current_generation(guarded))
        assert report is not None and report.verdict == "forced"
    names = sorted(p.name for p in guarded.glob("gen-*"))
    assert names == ["gen-000001", "gen-000004"]  # the served one and the last good one
    from tinyseek.indexer.guard import last_good_build

    good = last_good_build(guarded, before="gen-000004")
    assert good is not None and good[0].name == "gen-000001"


def test_likeliest_to_fail_orders_configurations_by_their_fall_at_publish() -> None:
    from dataclasses import replace

    from tinyseek.indexer.guard import likeliest_to_fail
    from tinyseek.indexer.quality import QualityReport

    metrics = {"f1@10": 0.3, "ndcg@10": 0.4}
    good = QualityReport(
        "gen-000001", 0, 0, "x", 10, {c: dict(metrics) for c in ("hybrid", "bm25", "dense")},
        0.0, "",
    )  # fmt: skip
    forced = replace(
        good,
        configs={
            "hybrid": {"f1@10": 0.3, "ndcg@10": 0.41},
            "bm25": {"f1@10": 0.29, "ndcg@10": 0.4},  # -3.3%
            "dense": {"f1@10": 0.3, "ndcg@10": 0.2},  # -50%
        },
    )
    assert likeliest_to_fail(forced, good) == ["dense", "bm25", "hybrid"]
    assert likeliest_to_fail(None, good) == ["hybrid", "bm25", "dense"]


def test_a_forced_build_is_judged_at_its_first_failing_configuration(
    guarded: Path, tmp_path: Path, sample_products: list[Product]
) -> None:
    """The service's check of a suspect build stops at the first configuration that fell
    past the tolerance; its automatic rollback acts only on the build it judged."""
    from tinyseek.indexer.build import build_catalog
    from tinyseek.indexer.generations import rollback
    from tinyseek.indexer.guard import likeliest_to_fail, score_and_judge
    from tinyseek.indexer.quality import scoring_engine

    worse = degraded(tmp_path / "worse.jsonl", sample_products, guarded)
    build_catalog(worse, guarded, HashingEncoder(), force=True)
    gen = current_generation(guarded)
    labels = load_labels(guarded)
    forced, good = publish_report(gen), publish_report(guarded / "gen-000001")
    assert labels is not None and forced is not None and good is not None
    with scoring_engine(guarded, gen, labels, HashingEncoder()) as engine:
        judged = score_and_judge(guarded, labels, engine)
    assert judged.rollback_to == guarded / "gen-000001"
    assert judged.report.verdict == "replaced" and judged.report.drops
    assert list(judged.report.configs) == likeliest_to_fail(forced, good)[:1]

    assert rollback(guarded, to="gen-000001", only_from="gen-000009") == (gen.name, gen.name)
    assert rollback(guarded, to="gen-000001", only_from=gen.name) == (gen.name, "gen-000001")
    # rolled forward by an operator: a good build now, never rolled back automatically
    assert rollback(guarded, to=gen.name) == ("gen-000001", gen.name)
    assert rollback(guarded, to="gen-000001", only_from=gen.name) == (gen.name, gen.name)
