"""The plain tools measured beside tinyseek (`tinyseek eval --baselines`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLE
from tinyseek.eval.baselines import (
    PLAIN_BM25,
    PLAIN_DENSE,
    PLAIN_RRF,
    PlainBaselines,
    plain_text,
    run_baselines,
)
from tinyseek.eval.beir import LabelledQuery, load_sample
from tinyseek.search.fusion import fuse_rrf
from tinyseek.search.types import Product


def test_plain_text_is_title_plus_text_without_repeating_the_title() -> None:
    assert plain_text(Product(id="1", title="Oak Desk", description="Oak Desk")) == "Oak Desk"
    assert (
        plain_text(Product(id="1", title="Oak Desk", description="Solid oak."))
        == "Oak Desk Solid oak."
    )


@pytest.fixture(scope="module")
def plain(
    sample_products: list[Product], tmp_path_factory: pytest.TempPathFactory
) -> PlainBaselines:
    return PlainBaselines(sample_products, tmp_path_factory.mktemp("baselines"))


def test_plain_bm25_is_one_field_and_filters_inside(plain: PlainBaselines) -> None:
    query = LabelledQuery("q", "sofa", {}, filters={"price_max": 800})
    ranked = plain.rank_bm25(query)
    assert ranked and all(plain.products[o].price is not None for o, _ in ranked)
    assert all(plain.products[o].price <= 800 for o, _ in ranked)  # type: ignore[operator]
    assert all("sofa" in plain_text(plain.products[o]).lower() for o, _ in ranked[:5])
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)


def test_plain_rrf_fuses_the_two_plain_rankings(plain: PlainBaselines, teacher: Any) -> None:
    query = LabelledQuery("q", "lamp for reading", {})
    dense = plain.rank_dense(query)
    assert len(dense) == 100 and dense[0][1] >= dense[-1][1]
    assert plain.rank_rrf(query) == fuse_rrf(plain.rank_bm25(query), dense, k=60)[:100]


def test_run_baselines_scores_three_plain_configurations(
    sample_products: list[Product], tmp_path: Path, teacher: Any
) -> None:
    labelled = load_sample(SAMPLE).head(12)
    results = run_baselines(labelled, sample_products, tmp_path)
    assert [r.name for r in results] == [PLAIN_BM25, PLAIN_DENSE, PLAIN_RRF]
    for result in results:
        assert len(result.queries) == 12 and 0 <= result.metrics["ndcg@10"] <= 1
    assert list(tmp_path.glob("plain-teacher-*.npy"))  # document vectors cached for the next run
