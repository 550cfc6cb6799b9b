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

from tinyseek.search.filters import FilterColumns, normalise_category
from tinyseek.search.spelling import count_terms
from tinyseek.search.types import Product

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    ord INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    alive INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS docs_id ON docs(id);
CREATE TABLE IF NOT EXISTS terms (
    term TEXT PRIMARY KEY,
    df INTEGER NOT NULL
);
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
            conn = self._conn
            had_terms = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'terms'"
            ).fetchone()
            conn.executescript(SCHEMA)
            if had_terms is None:  # new, or written before the vocabulary existed
                counts = count_terms(product for _, product in self.iter_live())
                conn.executemany("INSERT INTO terms(term, df) VALUES (?, ?)", counts.items())
            conn.commit()

    def _connect(self) -> sqlite3.Connection:
        # Rollback-journal mode: a commit is one atomic step for readers, and the
        # file on disk is complete after it (no -wal to checksum or copy).
        if self.writable:
            return sqlite3.connect(self.path, timeout=30.0)
        return sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=30.0
        )

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
        self._conn.executemany(
            "INSERT INTO terms(term, df) VALUES (?, ?) "
            "ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
            count_terms(products).items(),
        )

    def _forget_terms(self, ordinals: Sequence[int]) -> None:
        """Take the words of these live products out of the vocabulary (before tombstoning)."""
        products: list[Product] = []
        for start in range(0, len(ordinals), 500):
            chunk = list(ordinals[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT data FROM docs WHERE alive = 1 AND ord IN ({marks})", chunk
            ).fetchall()
            products.extend(Product.from_dict(json.loads(d)) for (d,) in rows)
        counts = count_terms(products)
        self._conn.executemany(
            "UPDATE terms SET df = df - ? WHERE term = ?", [(n, t) for t, n in counts.items()]
        )
        self._conn.execute("DELETE FROM terms WHERE df <= 0")

    def vocabulary(self) -> dict[str, int] | None:
        """Word -> number of live products using it; None for a store older than the table."""
        try:
            rows = self._conn.execute("SELECT term, df FROM terms").fetchall()
        except sqlite3.OperationalError:
            return None
        return {str(term): int(df) for term, df in rows}

    def tombstone(self, product_ids: Iterable[str]) -> list[int]:
        """Mark the live rows of these ids deleted; return their ordinals."""
        ords: list[int] = []
        for pid in product_ids:
            rows = self._conn.execute(
                "SELECT ord FROM docs WHERE id = ? AND alive = 1", (pid,)
            ).fetchall()
            ords.extend(int(r[0]) for r in rows)
        self.tombstone_ordinals(ords)
        return ords

    def tombstone_ordinals(self, ordinals: Iterable[int]) -> None:
        """Mark these ordinals deleted (caller commits)."""
        ords = list(ordinals)
        self._forget_terms(ords)
        self._conn.executemany("UPDATE docs SET alive = 0 WHERE ord = ?", [(o,) for o in ords])

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

    def live_ordinals(self, product_ids: Iterable[str]) -> dict[str, int]:
        """Ordinal of each of these ids that has a live row."""
        found: dict[str, int] = {}
        for pid in product_ids:
            row = self._conn.execute(
                "SELECT ord FROM docs WHERE id = ? AND alive = 1", (pid,)
            ).fetchone()
            if row is not None:
                found[pid] = int(row[0])
        return found

    def ordinal_of(self, product_id: str) -> int | None:
        row = self._conn.execute(
            "SELECT ord FROM docs WHERE id = ? AND alive = 1", (product_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    def iter_live(self) -> Iterable[tuple[int, Product]]:
        for o, d in self._conn.execute("SELECT ord, data FROM docs WHERE alive = 1 ORDER BY ord"):
            yield int(o), Product.from_dict(json.loads(d))

    def live_count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM docs WHERE alive = 1").fetchone()[0])

    def load_columns(self, size: int = 0) -> tuple[np.ndarray, np.ndarray, FilterColumns]:
        """(alive mask, product id per ordinal, filter columns) over ordinals 0..max.

        The arrays cover at least `size` ordinals: ordinals past the store's last
        row (vectors or BM25 documents of an update not yet committed to the
        store) are not alive. The filter fields are read with SQLite's JSON
        functions, so loading does not parse every product in Python.
        """
        n = max(self.next_ordinal(), size)
        alive = np.zeros(n, dtype=bool)
        ids = np.empty(n, dtype=object)
        price = np.full(n, np.nan)
        rating = np.full(n, np.nan)
        in_stock = np.zeros(n, dtype=bool)
        brand_code = np.zeros(n, dtype=np.int32)
        category_code = np.zeros(n, dtype=np.int32)
        brands: dict[str, int] = {"": 0}
        categories: dict[str, int] = {"": 0}
        brand_labels, category_labels = [""], [""]
        rows = self._conn.execute(
            "SELECT ord, id, alive, json_extract(data, '$.price'), json_extract(data, '$.rating'),"
            " COALESCE(json_extract(data, '$.in_stock'), 1), json_extract(data, '$.brand'),"
            " json_extract(data, '$.category') FROM docs"
        )
        for o, pid, is_alive, p, r, stock, brand, category in rows:
            alive[o] = bool(is_alive)
            ids[o] = pid
            if p is not None:
                price[o] = float(p)
            if r is not None:
                rating[o] = float(r)
            in_stock[o] = bool(stock)
            brand_label = str(brand or "").strip()
            brand_code[o] = brands.setdefault(brand_label.lower(), len(brands))
            if brand_code[o] == len(brand_labels):
                brand_labels.append(brand_label)
            category_key = normalise_category(str(category or ""))
            category_code[o] = categories.setdefault(category_key, len(categories))
            if category_code[o] == len(category_labels):
                category_labels.append(" > ".join(_levels(str(category or ""))))
        columns = FilterColumns(
            price=price,
            rating=rating,
            in_stock=in_stock,
            brand_code=brand_code,
            category_code=category_code,
            brands=list(brands),
            categories=list(categories),
            brand_labels=brand_labels,
            category_labels=category_labels,
        )
        return alive, ids, columns


def _levels(category: str) -> list[str]:
    return [level.strip() for level in category.split(">") if level.strip()]
