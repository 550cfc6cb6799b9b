"""Document store: products by ordinal in SQLite, plus the columns filters need.

Ordinals are dense integers assigned in insertion order; they are the FAISS ids
and the tantivy `ord` field, so the three components agree on identity. A
deleted or replaced product keeps its row with `alive = 0` (a tombstone) until
compaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from search.filters import FilterColumns, normalise_category
from search.types import Product

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    ord INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    alive INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS docs_id ON docs(id);
"""


class DocStore:
    """SQLite-backed product store; one connection per thread, read-only unless `writable`."""

    def __init__(self, path: Path, writable: bool = False) -> None:
        self.path = path
        self.writable = writable
        if not writable and not path.is_file():
            raise FileNotFoundError(f"document store not found: {path}")
        self._local = threading.local()
        if writable:
            with self._connect() as conn:
                conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        if self.writable:
            return sqlite3.connect(self.path)
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)

    @property
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def next_ordinal(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(ord) + 1, 0) FROM docs").fetchone()
        return int(row[0])

    def append(self, ordinals: Sequence[int], products: Sequence[Product]) -> None:
        """Insert products at the given ordinals (caller commits)."""
        self._conn.executemany(
            "INSERT INTO docs(ord, id, data, alive) VALUES (?, ?, ?, 1)",
            [
                (o, p.id, json.dumps(p.to_dict(), ensure_ascii=False))
                for o, p in zip(ordinals, products)
            ],
        )

    def tombstone(self, product_ids: Iterable[str]) -> list[int]:
        """Mark the live rows of these ids deleted; return their ordinals."""
        ords: list[int] = []
        for pid in product_ids:
            rows = self._conn.execute(
                "SELECT ord FROM docs WHERE id = ? AND alive = 1", (pid,)
            ).fetchall()
            ords.extend(int(r[0]) for r in rows)
        self._conn.executemany("UPDATE docs SET alive = 0 WHERE ord = ?", [(o,) for o in ords])
        return ords

    def commit(self) -> None:
        self._conn.commit()

    def get(self, ordinals: Sequence[int]) -> list[Product]:
        """Products at these ordinals, in the given order."""
        if not ordinals:
            return []
        marks = ",".join("?" * len(ordinals))
        rows = self._conn.execute(
            f"SELECT ord, data FROM docs WHERE ord IN ({marks})", list(ordinals)
        ).fetchall()
        by_ord = {int(o): Product.from_dict(json.loads(d)) for o, d in rows}
        return [by_ord[o] for o in ordinals]

    def ordinal_of(self, product_id: str) -> int | None:
        row = self._conn.execute(
            "SELECT ord FROM docs WHERE id = ? AND alive = 1", (product_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    def iter_live(self) -> Iterable[tuple[int, Product]]:
        for o, d in self._conn.execute("SELECT ord, data FROM docs WHERE alive = 1 ORDER BY ord"):
            yield int(o), Product.from_dict(json.loads(d))

    def load_columns(self) -> tuple[np.ndarray, np.ndarray, FilterColumns]:
        """(alive mask, product id per ordinal, filter columns) over all ordinals 0..max."""
        n = self.next_ordinal()
        alive = np.zeros(n, dtype=bool)
        ids = np.empty(n, dtype=object)
        price = np.full(n, np.nan)
        rating = np.full(n, np.nan)
        in_stock = np.zeros(n, dtype=bool)
        brand_code = np.zeros(n, dtype=np.int32)
        category_code = np.zeros(n, dtype=np.int32)
        brands: dict[str, int] = {"": 0}
        categories: dict[str, int] = {"": 0}
        for o, pid, is_alive, d in self._conn.execute("SELECT ord, id, alive, data FROM docs"):
            data = json.loads(d)
            alive[o] = bool(is_alive)
            ids[o] = pid
            if data.get("price") is not None:
                price[o] = float(data["price"])
            if data.get("rating") is not None:
                rating[o] = float(data["rating"])
            in_stock[o] = bool(data.get("in_stock", True))
            brand = str(data.get("brand") or "").strip().lower()
            brand_code[o] = brands.setdefault(brand, len(brands))
            category = normalise_category(str(data.get("category") or ""))
            category_code[o] = categories.setdefault(category, len(categories))
        columns = FilterColumns(
            price=price,
            rating=rating,
            in_stock=in_stock,
            brand_code=brand_code,
            category_code=category_code,
            brands=list(brands),
            categories=list(categories),
        )
        return alive, ids, columns
