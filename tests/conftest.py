"""Shared fixtures: the real teacher and an index of the sample catalog, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"
HOMEDEPOT = Path(os.environ.get("TINYSEEK_HOMEDEPOT", REPO.parent / "shared/data/homedepot"))


@pytest.fixture(scope="session")
def teacher():  # type: ignore[no-untyped-def]
    from models.encoder import load_encoder

    return load_encoder("teacher")


@pytest.fixture(scope="session")
def sample_products() -> list:  # type: ignore[type-arg]
    from indexer.readers import Reject, read_catalog

    items = list(read_catalog(SAMPLE / "corpus.jsonl"))
    assert not [i for i in items if isinstance(i, Reject)], "the sample catalog has bad rows"
    return items


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, teacher, sample_products) -> Path:  # type: ignore[no-untyped-def]
    from indexer.build import build_index

    out = tmp_path_factory.mktemp("sample-index")
    build_index(sample_products, out, teacher)
    return out


@pytest.fixture(scope="session")
def sample_engine(sample_index: Path, teacher):  # type: ignore[no-untyped-def]
    from search import Engine

    return Engine.open(sample_index, encoder=teacher)
