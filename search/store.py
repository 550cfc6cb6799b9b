"""Document store: products by ordinal in SQLite, plus the columns filters need.

Ordinals are dense integers assigned in insertion order; they are the FAISS ids
and the tantivy `ord` field, so the three components agree on identity. A
deleted or replaced product keeps its row with `alive = 0` (a tombstone) until
compaction.

The store is the generation's commit point. Its `meta` table holds the revision, the
last journal record applied and the generation's component files with their checksums,
written in the same transaction as the products, so a reader that sees a store state
sees the revision and the files that belong to it. SQLite runs in WAL mode: a writer
killed mid-transaction leaves a WAL that every reader can read past, and readers
never block the writer.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np
import orjson

from tinyseek.errors import is_disk_full
from tinyseek.search.filters import FilterColumns, normalise_category
from tinyseek.search.layout import CorruptGenerationError
from tinyseek.search.spelling import count_terms
from tinyseek.search.types import Product

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    ord INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    alive INTEGER NOT NULL DEFAULT 1,
    crc INTEGER
);
CREATE INDEX IF NOT EXISTS docs_id ON docs(id);
CREATE TABLE IF NOT EXISTS terms (
    term TEXT PRIMARY KEY,
    df INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StoreMeta:
    """What a committed store state says about its generation."""

    revision: int = 0
    """In-place commits since the generation was built."""
    journal_seq: int = 0
    """The last journal record applied (records up to it are in this state)."""
    dense_file: str = "dense.faiss"
    """The FAISS file holding this state's vectors (each commit writes a new one)."""
    vectors: int = 0
    """Vectors in `dense_file`."""
    files: dict[str, str] = field(default_factory=dict)
    """sha256 of every component file but the store itself, by path in the generation."""

    def to_rows(self) -> list[tuple[str, str]]:
        return [
            ("revision", str(self.revision)),
            ("journal_seq", str(self.journal_seq)),
            ("dense_file", self.dense_file),
            ("vectors", str(self.vectors)),
            ("files", json.dumps(self.files, sort_keys=True)),
        ]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str]]) -> StoreMeta | None:
        values = dict(rows)
        if "revision" not in values:
            return None
        try:
            files = json.loads(values.get("files", "{}"))
            return cls(
                revision=int(values["revision"]),
                journal_seq=int(values.get("journal_seq", "0")),
                dense_file=values.get("dense_file", "dense.faiss"),
                vectors=int(values.get("vectors", "0")),
                files={str(k): str(v) for k, v in files.items()},
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise sqlite3.DatabaseError(f"the store's meta table is malformed: {exc}") from None


_T = TypeVar("_T")
_P = ParamSpec("_P")
TRANSIENT = ("locked", "busy")


def _loads(data: str) -> Any:
    """A row's JSON: orjson (several times faster than json, and a page reads ten rows per
    search), or json for what orjson refuses and json wrote (NaN)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _named(
    method: Callable[Concatenate[DocStore, _P], _T],
) -> Callable[Concatenate[DocStore, _P], _T]:
    """SQLite reporting damage ("database disk image is malformed", "file is not a
    database", undecodable text) becomes CorruptGenerationError naming the store file; a
    full disk or a busy database stays what it is."""

    @functools.wraps(method)
    def wrapper(self: DocStore, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc) or any(word in str(exc) for word in TRANSIENT):
                raise
            raise CorruptGenerationError(self.path, f"unreadable: {exc}") from None

    return wrapper


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


class DocStore:
    """SQLite-backed product store; one connection per thread, read-only unless `writable`.

    Only a builder creates a store (`create=True`): a writer finding none refuses, so a
    lost file can never turn into an empty catalog.
    """

    def __init__(self, path: Path, writable: bool = False, create: bool = False) -> None:
        self.path = path
        self.writable = writable
        if not create and not path.is_file():
            raise FileNotFoundError(f"document store not found: {path}")
        self._local = threading.local()
        self._crc_column: bool | None = None
        self.identity = _identity(path)
        """(device, inode) of the file when opened: a replaced file is another store."""
        if writable:
            self._prepare()

    @_named
    def _prepare(self) -> None:
        """A writer's first open: the schema, and what an older store lacks."""
        conn = self._conn
        had_terms = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'terms'"
        ).fetchone()
        conn.executescript(SCHEMA)
        if not self._has_crc():  # written before rows had checksums
            conn.execute("ALTER TABLE docs ADD COLUMN crc INTEGER")
            self._crc_column = True
        if had_terms is None:  # new, or written before the vocabulary existed
            counts = count_terms(product for _, product in self.iter_live())
            conn.executemany("INSERT INTO terms(term, df) VALUES (?, ?)", counts.items())
        conn.commit()

    def _connect(self) -> sqlite3.Connection:
        if self.writable:
            conn = sqlite3.connect(self.path, timeout=30.0)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            return conn
        # Readers open read-write but only query: a reader may have to recover what a
        # killed writer left (a hot rollback journal of an older store, a WAL index),
        # which a read-only connection cannot. A read-only file system gets mode=ro.
        try:
            conn = sqlite3.connect(
                f"file:{self.path}?mode=rw",
                uri=True,
                check_same_thread=False,
                timeout=30.0,
                isolation_level=None,
            )
            conn.execute("PRAGMA query_only = ON")
        except sqlite3.OperationalError:
            conn = sqlite3.connect(
                f"file:{self.path}?mode=ro",
                uri=True,
                check_same_thread=False,
                timeout=30.0,
                isolation_level=None,
            )
        return conn

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

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one committed state (a read transaction on this thread)."""
        conn = self._conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    @_named
    def meta(self) -> StoreMeta | None:
        """The committed meta, or None for a store written before the meta table."""
        try:
            rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return StoreMeta.from_rows(rows)

    @_named
    def revision(self) -> int | None:
        """The committed revision now (one indexed lookup), or None without a meta table."""
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return None if row is None else int(row[0])

    @_named
    def write_meta(self, meta: StoreMeta) -> None:
        """Replace the meta (caller commits, in the same transaction as the products)."""
        self._conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            meta.to_rows(),
        )

    @_named
    def quick_check(self) -> str | None:
        """SQLite's structural self-check: None when sound, else its first complaint."""
        rows = self._conn.execute("PRAGMA quick_check(5)").fetchall()
        problems = [str(r[0]) for r in rows if r and r[0] != "ok"]
        return "; ".join(problems) or None

    @_named
    def checkpoint(self) -> None:
        """Move the WAL into the database file and empty it (the store is then one file)."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _has_crc(self) -> bool:
        """Whether rows carry a checksum of their data (stores written since they do)."""
        if self._crc_column is None:
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(docs)")}
            self._crc_column = "crc" in columns
        return self._crc_column

    def _product(self, ordinal: int, data: str, crc: int | None) -> Product:
        """A row's product, refusing a row whose bytes changed since it was written."""
        if crc is not None and zlib.crc32(data.encode()) != crc:
            raise CorruptGenerationError(self.path, f"product row {ordinal} is damaged")
        try:
            return Product.from_dict(_loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptGenerationError(self.path, f"product row {ordinal}: {exc}") from None

    def _data_columns(self) -> str:
        return "data, crc" if self._has_crc() else "data, NULL"

    @_named
    def next_ordinal(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(ord) + 1, 0) FROM docs").fetchone()
        return int(row[0])

    @_named
    def append(self, ordinals: Sequence[int], products: Sequence[Product]) -> None:
        """Insert products at the given ordinals (caller commits)."""
        rows = []
        for o, p in zip(ordinals, products):
            data = json.dumps(p.to_dict(), ensure_ascii=False)
            rows.append((o, p.id, data, zlib.crc32(data.encode())))
        self._conn.executemany(
            "INSERT INTO docs(ord, id, data, alive, crc) VALUES (?, ?, ?, 1, ?)", rows
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
            columns = self._data_columns()
            rows = self._conn.execute(
                f"SELECT ord, {columns} FROM docs WHERE alive = 1 AND ord IN ({marks})", chunk
            ).fetchall()
            products.extend(self._product(o, d, c) for o, d, c in rows)
        counts = count_terms(products)
        self._conn.executemany(
            "UPDATE terms SET df = df - ? WHERE term = ?", [(n, t) for t, n in counts.items()]
        )
        self._conn.execute("DELETE FROM terms WHERE df <= 0")

    @_named
    def vocabulary(self) -> dict[str, int] | None:
        """Word -> number of live products using it; None for a store older than the table."""
        try:
            rows = self._conn.execute("SELECT term, df FROM terms").fetchall()
        except sqlite3.OperationalError:
            return None
        return {str(term): int(df) for term, df in rows}

    @_named
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

    @_named
    def tombstone_ordinals(self, ordinals: Iterable[int]) -> None:
        """Mark these ordinals deleted (caller commits)."""
        ords = list(ordinals)
        self._forget_terms(ords)
        self._conn.executemany("UPDATE docs SET alive = 0 WHERE ord = ?", [(o,) for o in ords])

    @_named
    def commit(self) -> None:
        self._conn.commit()

    @_named
    def get(self, ordinals: Sequence[int]) -> list[Product]:
        """Products at these ordinals, in the given order."""
        if not ordinals:
            return []
        marks = ",".join("?" * len(ordinals))
        rows = self._conn.execute(
            f"SELECT ord, {self._data_columns()} FROM docs WHERE ord IN ({marks})", list(ordinals)
        ).fetchall()
        by_ord = {int(o): self._product(o, d, c) for o, d, c in rows}
        missing = [o for o in ordinals if o not in by_ord]
        if missing:
            raise CorruptGenerationError(self.path, f"product row {missing[0]} is missing")
        return [by_ord[o] for o in ordinals]

    @_named
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

    @_named
    def ordinal_of(self, product_id: str) -> int | None:
        row = self._conn.execute(
            "SELECT ord FROM docs WHERE id = ? AND alive = 1", (product_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    def iter_live(self) -> Iterator[tuple[int, Product]]:
        query = f"SELECT ord, {self._data_columns()} FROM docs WHERE alive = 1 ORDER BY ord"
        rows = _named(lambda store: store._conn.execute(query))(self)
        while True:
            batch = _named(lambda store: rows.fetchmany(512))(self)
            if not batch:
                return
            for o, d, c in batch:
                yield int(o), self._product(o, d, c)

    @_named
    def live_count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM docs WHERE alive = 1").fetchone()[0])

    @_named
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
