"""Helpers for the indexer tests: a deterministic hashing encoder and small catalogs.

(Named test_indexer_* so it lives with the indexer tests; it holds no tests itself.)
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from tinyseek.search.types import Product

_WORD = re.compile(r"[^\W_]+")


class HashingEncoder:
    """Bag of hashed lowercase words (and their 3-letter prefixes), L2-normalised.

    Deterministic across processes and runs, instant, and good enough that a
    query sharing words with a title finds it in dense mode.
    """

    def __init__(self, dim: int = 64, name: str = "test-hashing-64", delay: float = 0.0) -> None:
        self._dim = dim
        self._name = name
        self.delay = delay
        """Seconds to sleep per encoded batch (to slow a build down for crash tests)."""
        self.batches: list[int] = []
        """Size of every document batch encoded, in order."""

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self._dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            for feature in (word, word[:3] + "~"):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                h = int.from_bytes(digest, "little")
                vector[h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            vector[0] = 1.0
            return vector
        return vector / norm

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def encode_documents(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[np.ndarray]:
        batch: list[str] = []
        for text in texts:
            batch.append(text)
            if len(batch) == batch_size:
                yield self._encode_batch(batch)
                batch = []
        if batch:
            yield self._encode_batch(batch)

    def _encode_batch(self, batch: list[str]) -> np.ndarray:
        self.batches.append(len(batch))
        if self.delay:
            time.sleep(self.delay)
        return self.encode_queries(batch)


NOUNS = ("chair", "table", "lamp", "drill", "faucet", "sofa", "kettle", "rug", "shelf", "mirror")
ADJECTIVES = ("oak", "steel", "blue", "compact", "cordless", "vintage", "brass", "woven", "tall")
BRANDS = ("Acme", "Borealis", "Cobalt", "Dunmore")


def make_products(n: int, prefix: str = "P", seed: int = 0) -> list[Product]:
    """n distinct, deterministic products."""
    rng = np.random.default_rng(seed)
    products = []
    for i in range(n):
        noun = NOUNS[i % len(NOUNS)]
        adjective = ADJECTIVES[int(rng.integers(len(ADJECTIVES)))]
        products.append(
            Product(
                id=f"{prefix}{i:05d}",
                title=f"{adjective.title()} {noun} model {prefix}{i}",
                description=f"A {adjective} {noun} for the home, item number {i}.",
                brand=BRANDS[i % len(BRANDS)],
                category=f"Home > {noun.title()}s",
                price=float(10 + i % 90),
                rating=float(1 + i % 5),
                in_stock=i % 7 != 0,
            )
        )
    return products


def write_jsonl(path: Path, products: Iterable[Product]) -> Path:
    import json

    with path.open("w", encoding="utf-8") as fh:
        for p in products:
            row = p.to_dict()
            row["_id"] = row.pop("id")
            row["text"] = row.pop("description")
            fh.write(json.dumps(row) + "\n")
    return path
