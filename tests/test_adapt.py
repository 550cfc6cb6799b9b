"""Domain adaptation without labels: views, labelling functions, label model, training, artifact."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from tinyseek.search.types import FusionWeights, Product
from tinyseek.training.adapt import AdaptConfig, contrastive_distill, read_products
from tinyseek.training.weak import (
    ABSTAIN,
    NEGATIVE,
    POSITIVE,
    Candidates,
    CatalogStats,
    WeakSupervision,
    attribute,
    label_model_probabilities,
    labelling_functions,
    lf_statistics,
    make_views,
    size,
    supervise,
    type_head,
    type_phrase,
)

REPO = Path(__file__).resolve().parent.parent
pytest.importorskip("snorkel", reason="tinyseek adapt needs snorkel (pip install -e '.[adapt]')")


def test_views_of_a_title() -> None:
    title = "Delta Vero 1-Handle Shower Only Faucet Trim Kit in Chrome (Valve Not Included)"
    assert type_phrase(title) == ["faucet", "trim", "kit"]
    assert type_head(title) == "kit"
    assert attribute(title) == "chrome"
    assert attribute("Over the Range Microwave in Stainless Steel with Sensor") == "stainless steel"
    assert size("MD Building Products 36 in. x 36 in. Aluminum Sheet") == "36 in"
    assert type_phrase("Quikrete 80 lb. Crack-Resistant Concrete") == [
        "crack-resistant",
        "concrete",
    ]
    assert type_head("Cordless Drills") == "drill"


def test_make_views_uses_brand_type_and_is_seeded() -> None:
    products = [
        Product(id=f"p{i}", title=f"Calder {kind} Vanity in White", brand="Calder")
        for i, kind in enumerate(["Oak", "Maple", "Ash"])
    ] + [Product(id="x", title="Rain Shower Head, 10 in., Chrome", category="Bath > Showers")]
    stats = CatalogStats.of(products)
    views = make_views(products, stats, per_product=10, seed=1)
    texts = {(v.source, v.generator): v.text for v in views}
    assert texts[(0, "brand_type")] == "calder oak vanity"
    assert texts[(0, "attribute_type")] == "white oak vanity"
    assert texts[(3, "category_leaf")] in ("showers", "chrome showers")
    assert texts[(3, "size_type")] == "10 in shower head"
    assert make_views(products, stats, 2, seed=1) == make_views(products, stats, 2, seed=1)
    assert all(sum(v.source == i for v in make_views(products, stats, 2, 1)) <= 2 for i in range(4))


def _candidates() -> tuple[Candidates, np.ndarray]:
    # query 0 from product 0; candidates: the source, a same-type match, an unrelated deep hit
    c = Candidates(
        query=np.array([0, 0, 0]),
        doc=np.array([0, 1, 2]),
        bm25_rank=np.array([0, 1, 15]),
        teacher_cos=np.array([0.8, 0.7, 0.1]),
        coverage=np.array([1.0, 1.0, 0.0]),
        same_type=np.array([1, 1, 0]),
    )
    return c, np.array([True, False, False])


def test_labelling_functions_vote_as_documented() -> None:
    c, is_source = _candidates()
    lfs = labelling_functions(source_cos=np.array([0.5, 0.6, 0.7, 0.8]))
    votes = {name: lf(c, is_source).tolist() for name, lf in lfs.items()}
    assert votes == {
        "source_product": [POSITIVE, ABSTAIN, ABSTAIN],
        "covers_query": [POSITIVE, POSITIVE, NEGATIVE],
        "same_type": [POSITIVE, POSITIVE, NEGATIVE],
        "teacher_agrees": [POSITIVE, POSITIVE, NEGATIVE],
        "bm25_deep": [ABSTAIN, ABSTAIN, NEGATIVE],
    }
    matrix = np.array(list(votes.values())).T
    stats = lf_statistics(matrix, list(votes))
    assert stats["source_product"]["coverage"] == pytest.approx(1 / 3, abs=1e-4)
    assert stats["bm25_deep"] == {
        "coverage": pytest.approx(1 / 3, abs=1e-4),
        "overlap": pytest.approx(1 / 3, abs=1e-4),
        "conflict": 0.0,
        "positive_share": 0.0,
    }


def test_label_model_is_deterministic_with_a_seed() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 300)
    votes = np.stack(
        [np.where(rng.random(300) < accuracy, truth, 1 - truth) for accuracy in (0.9, 0.8, 0.7)],
        axis=1,
    )
    votes[rng.random(votes.shape) < 0.2] = ABSTAIN
    first, second = label_model_probabilities(votes, 3), label_model_probabilities(votes, 3)
    assert np.array_equal(first, second)
    assert ((first >= 0.5) == truth).mean() > 0.85


@pytest.fixture(scope="module")
def tiny_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("adapt") / "catalog.jsonl"
    lines = (REPO / "sample_data" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:160]) + "\n", encoding="utf-8")
    return path


def test_supervise_yields_source_positives_and_bm25_hard_negatives(tiny_catalog: Path) -> None:
    products = read_products(tiny_catalog)
    views = make_views(products, CatalogStats.of(products), 2, seed=0)
    title_words = [set(p.title.lower().split()) for p in products]

    def search(text: str, n: int) -> list[int]:  # a word-overlap ranking stands in for BM25
        words = set(text.split())
        ranked = sorted(range(len(products)), key=lambda i: (-len(words & title_words[i]), i))
        return ranked[:n]

    def cosine(q: np.ndarray, d: np.ndarray) -> np.ndarray:
        return np.where(np.asarray([views[i].source for i in q]) == d, 0.8, 0.2)

    weak = supervise(products, views, search, cosine, seed=0, depth=10)
    assert weak.queries and len(weak.queries) == len(weak.positives) == len(weak.negatives)
    written = {(v.text, v.source) for v in views}
    assert all(pair in written for pair in zip(weak.queries, weak.positives))
    assert all(p != n for p, n in zip(weak.positives, weak.negatives))
    assert weak.tuning and all(2 in qrels.values() for qrels in weak.tuning.values())
    stats = weak.statistics
    assert set(stats["labelling_functions"]) >= {"source_product", "teacher_agrees", "bm25_deep"}
    assert stats["triples"] == len(weak.queries)
    again = supervise(products, views, search, cosine, seed=0, depth=10)
    assert (again.queries, again.negatives) == (weak.queries, weak.negatives)


class _CharTokenizer:
    """Stands in for tokenizers.Tokenizer: one id per character."""

    def encode_batch(self, texts: list[str]) -> list[Any]:
        return [SimpleNamespace(ids=[3 + ord(c) % 40 for c in t if c != " "]) for t in texts]


def _tiny_training() -> tuple[Any, ...]:
    from tinyseek.training.student import LayerShape, StudentConfig, StudentEncoder

    torch.manual_seed(0)
    config = StudentConfig(
        vocab_size=50,
        layers=(LayerShape(heads=2, ffn=32),),
        hidden=16,
        head_dim=8,
        max_positions=16,
    )
    weak = WeakSupervision(
        queries=["a b", "c d", "e f", "g h", "i j", "k l"],
        positives=[0, 1, 2, 3, 4, 5],
        negatives=[1, 2, 3, 4, 5, 0],
        tuning={},
    )
    docs = ["a b x", "c d y", "e f z", "g h w", "i j v", "k l u"]
    teacher_docs = torch.nn.functional.normalize(torch.randn(6, 16), dim=1)
    return StudentEncoder(config), weak, docs, teacher_docs, teacher_docs.clone()


def test_two_training_steps_lower_the_loss() -> None:
    student, weak, docs, teacher_docs, teacher_queries = _tiny_training()
    config = AdaptConfig(steps=2, batch_size=6, lr=5e-3)
    losses = contrastive_distill(
        student,
        _CharTokenizer(),
        weak,
        docs,
        teacher_docs,
        teacher_queries,
        config,
        show_progress=False,
    )
    assert len(losses) == 2 and losses[1] < losses[0]


def test_interrupted_training_resumes_from_its_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tinyseek.training.adapt

    config = AdaptConfig(steps=4, batch_size=2, lr=5e-3, checkpoint_every=1)
    student, weak, docs, teacher_docs, teacher_queries = _tiny_training()
    args = (_CharTokenizer(), weak, docs, teacher_docs, teacher_queries, config)
    straight = contrastive_distill(student, *args, show_progress=False)

    real_batches = tinyseek.training.adapt._batches

    def interrupted(*a: Any) -> Iterator[list[int]]:
        yield from itertools.islice(real_batches(*a), 2)
        raise KeyboardInterrupt  # the job is killed after two steps

    monkeypatch.setattr(tinyseek.training.adapt, "_batches", interrupted)
    checkpoint = tmp_path / "adapt.pt"
    killed = _tiny_training()[0]
    with pytest.raises(KeyboardInterrupt):
        contrastive_distill(killed, *args, checkpoint=checkpoint, show_progress=False)
    monkeypatch.setattr(tinyseek.training.adapt, "_batches", real_batches)
    resumed_student = _tiny_training()[0]
    resumed = contrastive_distill(
        resumed_student, *args, checkpoint=checkpoint, show_progress=False
    )
    assert resumed == pytest.approx(straight, rel=1e-5)
    for a, b in zip(student.state_dict().values(), resumed_student.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_tinyseek_adapt_builds_an_artifact_that_loads_and_searches(
    tiny_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tinyseek.cli import main
    from tinyseek.indexer.build import build_index
    from tinyseek.models.encoder import load_encoder
    from tinyseek.search.engine import Engine

    tiny = "--layers 0 --heads 4 --ffn 64 --steps 2 --batch-size 8 --frequent-words 200"
    argv = ["adapt", str(tiny_catalog), "--out", str(tmp_path / "adapted"), *tiny.split()]
    argv += ["--threads", "1", "--adapt-steps", "2"]
    argv += ["--checkpoint-dir", str(tmp_path / "ckpt")]
    threads = torch.get_num_threads()
    try:
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    out = tmp_path / "adapted"
    assert f"in {out}" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["adaptation"]["weak_supervision"]["triples"] > 0
    assert "fusion" not in manifest  # indexes keep the adaptive default
    products = read_products(tiny_catalog)
    stats = build_index(products, tmp_path / "index", load_encoder(out))
    engine = Engine.open(tmp_path / "index")
    assert engine.default_weights == FusionWeights()
    hits = engine.search(products[0].title, k=5)
    assert stats.products == len(products) and products[0].id in [h.doc_id for h in hits]
    assert not list((tmp_path / "ckpt").iterdir())  # the finished job removed its checkpoint
    assert not list(tmp_path.glob(".adapted.*"))  # no staging directory left behind
