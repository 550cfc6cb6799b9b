"""Data shipped inside the package: the sample catalog and its labelled queries."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def sample_data_dir() -> Path:
    """The sample dataset in BEIR layout: corpus.jsonl, queries.jsonl, qrels/test.tsv."""
    return Path(str(files("tinyseek").joinpath("sample_data")))


def sample_catalog() -> Path:
    """The sample catalog (1,212 synthetic products, JSON Lines): the demo's default data."""
    return sample_data_dir() / "corpus.jsonl"
