"""Shared fixtures: the real teacher and an index of the sample catalog, built once per session."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.ray_cluster"]  # the `ray_cluster` fixture

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"
HOMEDEPOT = Path(os.environ.get("TINYSEEK_HOMEDEPOT", REPO.parent / "shared/data/homedepot"))


@pytest.fixture(scope="session")
def teacher():  # type: ignore[no-untyped-def]
    from tinyseek.models.encoder import load_encoder

    return load_encoder("teacher")


@pytest.fixture(scope="session")
def sample_products() -> list:  # type: ignore[type-arg]
    from tinyseek.indexer.readers import Reject, read_catalog

    items = list(read_catalog(SAMPLE / "corpus.jsonl"))
    assert not [i for i in items if isinstance(i, Reject)], "the sample catalog has bad rows"
    return items


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, teacher, sample_products) -> Path:  # type: ignore[no-untyped-def]
    from tinyseek.indexer.build import build_index

    out = tmp_path_factory.mktemp("sample-index")
    build_index(sample_products, out, teacher)
    return out


@pytest.fixture(scope="session")
def sample_engine(sample_index: Path, teacher):  # type: ignore[no-untyped-def]
    from tinyseek.search import Engine

    return Engine.open(sample_index, encoder=teacher)


# A tiny compact artifact (1 layer, 4 distillation steps): built in seconds, loads like a real one.
PRODUCTS = [
    (
        "Cordless Drill Driver Kit, 18V, with Two Batteries",
        "Ironwood",
        "Tools > Power Tools > Drills",
    ),
    ("Shaker Oak Bathroom Vanity with Marble Top, 36 in.", "Calder", "Bath > Vanities"),
    ("LED Flush Mount Ceiling Light in Brushed Nickel", "Lumo", "Lighting > Ceiling Lights"),
    ("Stainless Steel French Door Refrigerator, 25 cu. ft.", "Aurelle", "Appliances > Fridges"),
    ("Cotton Twill Wingback Chair in Slate Blue", "Harbor", "Furniture > Chairs"),
    ("Rain Shower Head, 10 in., Chrome", "Calder", "Bath > Shower Heads"),
    ("Garden Hose Reel Cart with 100 ft. Capacity", "Verde", "Outdoor > Hoses"),
    ("Interior Latex Paint, Eggshell, 1 gal., Tugboat Grey", "Behrlin", "Paint > Interior"),
]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    import torch

    from tinyseek.training.build import BuildConfig, prepare, pruned_student, train, write_artifact

    root = tmp_path_factory.mktemp("tiny")
    catalog = root / "catalog.jsonl"
    with catalog.open("w", encoding="utf-8") as fh:
        for i, (title, brand, category) in enumerate(PRODUCTS):
            record = {"_id": str(i), "title": title, "brand": brand, "category": category}
            fh.write(json.dumps(record) + "\n")
    threads = torch.get_num_threads()
    config = BuildConfig(
        distill_on=catalog,
        layers=(0,),
        heads=4,
        ffn=64,
        steps=4,
        batch_size=4,
        frequent_words=200,
        lr=2e-4,
        seed=0,
        threads=1,
        show_progress=False,
    )
    try:
        prep = prepare(config)
        student, selection = pruned_student(prep)
        loss = train(prep, student)
        path = write_artifact(root / "artifact", prep, student, selection, loss)
    finally:
        torch.set_num_threads(threads)
    yield {"path": path, "student": student, "prep": prep}


@pytest.fixture(scope="session")
def compact_home(tmp_path_factory: pytest.TempPathFactory, tiny: dict[str, object]) -> Path:
    """A TINYSEEK_HOME whose default compact encoder is the tiny artifact, so commands that
    use the default encoder run without building the real one (minutes) in the test suite."""
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(Path(str(tiny["path"])), home / "encoder-default")
    return home
