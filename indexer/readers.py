"""Catalog readers: rows in, `Product` records or `Reject`s (with line number and reason) out.

Formats: JSON Lines (UTF-8), CSV and TSV (encoding detected: UTF-8, with a BOM
or without, or a legacy single-byte code page such as Latin-1 / cp1252), and
Parquet. Source columns are mapped onto `Product` fields by a `FieldMapping`:
each product field lists the source names tried in order (first present wins), except
`attributes`, which merges every listed column (a JSON object, or a plain value kept
under its column's name). Columns no field names are kept as attributes too (scalar
values; `unmapped="none"` or a list of column names narrows that). Prices keep their
currency (`indexer.prices`: symbols, ISO codes, decimal commas), one per catalog.

Every reader yields items in file order, deterministically, so a resumed job can
skip the first N items it already consumed. One bad row never stops a reader: it
becomes a `Reject` (line number, reason, raw text) and reading goes on. A
repeated id is rejected; the first occurrence wins.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tinyseek.indexer.prices import CatalogCurrency, currency_code, parse_number, parse_price
from tinyseek.search.types import Product
from tinyseek.search.validation import (
    MAX_ATTRIBUTES,
    MAX_FIELD_CHARS,
    check_product,
    normalise_id,
)

FieldMapping = Mapping[str, tuple[str, ...]]

# Product field -> source column names tried in order (first present wins).
DEFAULT_MAPPING: dict[str, tuple[str, ...]] = {
    "id": ("id", "_id", "product_id", "product_uid", "sku"),
    "title": ("title", "name", "product_title"),
    "description": ("description", "text", "desc", "product_description"),
    "brand": ("brand", "manufacturer"),
    "category": ("category", "category_path", "categories"),
    "price": ("price",),
    "rating": ("rating", "stars"),
    "in_stock": ("in_stock", "available", "availability"),
    "attributes": ("attributes", "attrs"),
    "image_url": ("image_url", "image", "image_link", "picture"),
    "currency": ("currency", "price_currency"),
}
PRODUCT_FIELDS = tuple(DEFAULT_MAPPING)
"""The fields a row maps onto: the product's, and `currency` (the ISO code of the row's
price, when the catalog has such a column)."""
Unmapped = str | Sequence[str]
"""Which columns no field names become attributes: "all" (the default), "none", or the
names of those to keep."""
FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}
RAW_LIMIT = 2000
MAX_CSV_FIELD = 10 * MAX_FIELD_CHARS
"""csv's own cell limit: a bigger cell is a broken row (product fields have tighter limits)."""
SAMPLE_BYTES = 1 << 20
# Single-byte code pages a product catalog is most likely in, preferred in this
# order when the detector lists them among its candidates (it often ranks a
# Central European page first for short Western European text).
WESTERN_ENCODINGS = ("cp1252", "latin_1", "iso8859_15")


@dataclass(frozen=True)
class Reject:
    line: int
    """1-based line in the file (Parquet: row number; CSV: first line of a multi-line row)."""
    reason: str
    raw: str

    def to_json(self) -> str:
        return json.dumps({"line": self.line, "reason": self.reason, "raw": self.raw})


# --------------------------------------------------------------------------- mapping


def parse_mapping(
    pairs: Sequence[str] = (), mapping_file: str | Path | None = None
) -> dict[str, tuple[str, ...]]:
    """The default mapping overridden by a JSON/TOML file, then by `field=column` pairs.

    A file holds `{"title": "name", "description": ["long_desc", "text"]}` (JSON)
    or `title = "name"` (TOML). Unknown product fields are refused.
    """
    overrides: dict[str, Any] = {}
    if mapping_file is not None:
        path = Path(mapping_file)
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix == ".toml":
                try:
                    import tomllib
                except ImportError:  # Python 3.10
                    raise ValueError("TOML mapping files need Python 3.11+; use JSON") from None
                loaded: Any = tomllib.loads(text)
            else:
                loaded = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"mapping file {path}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ValueError(f"mapping file {path}: expected a table of field = column(s)")
        overrides.update(loaded)
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise ValueError(f"--map expects FIELD=COLUMN, got {pair!r}")
        overrides[field.strip()] = column.strip()
    mapping = dict(DEFAULT_MAPPING)
    for field, columns in overrides.items():
        if field not in DEFAULT_MAPPING:
            raise ValueError(
                f"unknown product field {field!r} in mapping; fields: {', '.join(PRODUCT_FIELDS)}"
            )
        if isinstance(columns, str):
            columns = [c.strip() for c in columns.split(",")]
        if not isinstance(columns, list) or not all(isinstance(c, str) and c for c in columns):
            raise ValueError(f"mapping for {field!r} must be a column name or a list of names")
        mapping[field] = tuple(columns)
    return mapping


# --------------------------------------------------------------------------- rows -> products


def _pick(row: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, Any]:
    """The first of `names` with a value in the row, and the value (None when none has)."""
    for name in names:
        if name in row and row[name] not in (None, ""):
            return name, row[name]
    return (names[0] if names else ""), None


def _named(field: str, column: str) -> str:
    """How a reject reason names a field: with its source column when that differs."""
    return field if column in ("", field) else f"{field} (column {column!r})"


def _number(field: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{field} must be a number, got {value!r}")
    try:
        number = parse_number(value.strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite, got {value!r}")
    return number


def _boolean(value: Any, field: str = "in_stock") -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "in stock", "in_stock"):
        return True
    if text in ("false", "0", "no", "n", "out of stock", "out_of_stock"):
        return False
    raise ValueError(f"{field} must be a boolean, got {value!r}")


def _text(field: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{field} must be text, got {type(value).__name__}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _scalar(value: Any) -> str | None:
    """A plain cell value as attribute text; None for empty, nested or unsupported values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        text = str(value).strip()
        return text or None
    return None


def _attributes_of(column: str, value: Any) -> dict[str, str]:
    """The attributes one mapped column contributes: a JSON object's entries, or the value
    itself under the column's name."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{_named('attributes', column)} must be a JSON object") from None
    if isinstance(value, list):  # Parquet map columns arrive as (key, value) pairs
        try:
            value = dict(value)
        except (TypeError, ValueError):
            raise ValueError(f"{_named('attributes', column)} must be an object") from None
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    text = _scalar(value)
    if text is None:
        raise ValueError(
            f"{_named('attributes', column)} must be an object or a plain value, "
            f"got {type(value).__name__}"
        )
    return {column: text}


def _unmapped_columns(
    row: Mapping[str, Any], mapping: FieldMapping, unmapped: Unmapped
) -> dict[str, str]:
    if unmapped == "none":
        return {}
    named = {column for columns in mapping.values() for column in columns}
    wanted = None if unmapped == "all" else set(unmapped)
    kept = {}
    for column, value in row.items():
        if column in named or (wanted is not None and column not in wanted):
            continue
        text = _scalar(value)
        if text is not None:
            kept[str(column)] = text
    return kept


def product_from_row(
    row: Mapping[str, Any],
    mapping: FieldMapping = DEFAULT_MAPPING,
    currency: CatalogCurrency | None = None,
    unmapped: Unmapped = "all",
) -> Product:
    """Map one source row onto a Product; raises ValueError naming the bad field and, when
    it differs, the column. `currency` is the catalog's (see `indexer.prices`)."""
    currency = currency if currency is not None else CatalogCurrency()

    def pick(field: str) -> tuple[str, Any]:
        return _pick(row, mapping.get(field, ()))

    column, value = pick("id")
    raw_id = _text(_named("id", column), value)
    if not raw_id:
        raise ValueError("missing id")
    product_id = normalise_id(raw_id)
    column, value = pick("title")
    title = _text(_named("title", column), value)
    if not title:
        raise ValueError("missing title")
    column, category = pick("category")
    if isinstance(category, list):
        category = " > ".join(_text(_named("category", column), c) for c in category)
    category = _text(_named("category", column), category)
    attributes = _unmapped_columns(row, mapping, unmapped)
    for name in mapping.get("attributes", ()):
        if row.get(name) not in (None, ""):
            attributes.update(_attributes_of(name, row[name]))
    column, code = pick("currency")
    if code is not None:
        if not isinstance(code, str):
            raise ValueError(f"{_named('currency', column)} must be a currency code, got {code!r}")
        try:
            currency.agree(currency_code(code), f"{_named('currency', column)} {code!r}")
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    column, value = pick("price")
    price = parse_price(value, currency, _named("price", column))
    column, value = pick("rating")
    rating = _number(_named("rating", column), value)
    column, value = pick("in_stock")
    in_stock = _boolean(value, _named("in_stock", column))
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValueError(
            f"{len(attributes)} attributes (columns {', '.join(list(attributes)[:5])}, ...); "
            f"the limit is {MAX_ATTRIBUTES}: name the columns to keep with --attributes"
        )
    texts = {}
    columns = {}
    for field in ("description", "brand", "image_url"):
        column, value = pick(field)
        texts[field] = _text(_named(field, column), value)
        columns[field] = column
    product = Product(
        id=product_id,
        title=title,
        description=texts["description"],
        brand=texts["brand"],
        category=category,
        price=price,
        rating=rating,
        in_stock=in_stock,
        attributes=attributes,
        image_url=texts["image_url"],
    )
    try:
        return check_product(product)
    except ValueError as exc:  # say which column the field came from
        reason = str(exc)
        for field, column in columns.items():
            if reason.startswith(f"{field} "):
                reason = _named(field, column) + reason[len(field) :]
        raise ValueError(reason) from None


# A source row: its line number, then the parsed row or the reason it could not be parsed.
SourceRow = tuple[int, "Mapping[str, Any] | str", str]


def _products(
    rows: Iterable[SourceRow],
    mapping: FieldMapping,
    currency: CatalogCurrency | None,
    unmapped: Unmapped,
) -> Iterator[Product | Reject]:
    currency = currency if currency is not None else CatalogCurrency()
    seen: set[str] = set()
    for line, row, raw in rows:
        if isinstance(row, str):
            yield Reject(line, row, raw[:RAW_LIMIT])
            continue
        try:
            product = product_from_row(row, mapping, currency, unmapped)
        except ValueError as exc:
            yield Reject(line, str(exc), raw[:RAW_LIMIT])
            continue
        if product.id in seen:
            yield Reject(line, f"duplicate id {product.id!r}", raw[:RAW_LIMIT])
            continue
        seen.add(product.id)
        yield product


# --------------------------------------------------------------------------- JSON Lines


def _jsonl_rows(path: Path) -> Iterator[SourceRow]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, f"undecodable text (not valid UTF-8 at byte {exc.start})", _lossy(raw)
                continue
            try:
                row = json.loads(text)
            except ValueError as exc:
                yield number, f"invalid JSON: {exc}", text
                continue
            if not isinstance(row, dict):
                yield number, f"expected a JSON object, got {type(row).__name__}", text
                continue
            yield number, row, text.rstrip("\r\n")


def _lossy(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r\n")


def read_jsonl(
    path: Path,
    mapping: FieldMapping = DEFAULT_MAPPING,
    currency: CatalogCurrency | None = None,
    unmapped: Unmapped = "all",
) -> Iterator[Product | Reject]:
    """Products from a JSON Lines file; bad lines (and repeated ids) become Rejects."""
    return _products(_jsonl_rows(path), mapping, currency, unmapped)


# --------------------------------------------------------------------------- CSV / TSV


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(sample: bytes, complete: bool = True) -> str:
    """Encoding of a delimited text file from its first bytes.

    UTF-8 wins when most lines with non-ASCII bytes decode as UTF-8 (the odd
    broken line is rejected row by row); otherwise charset-normalizer picks a
    code page, preferring the Western European ones.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    lines = sample.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line of a partial sample may be cut mid-character
    non_ascii = [line for line in lines if not line.isascii()]
    if not non_ascii:
        return "utf-8"
    valid = sum(1 for line in non_ascii if _is_utf8(line))
    if valid and valid >= len(non_ascii) - valid:
        return "utf-8"
    from charset_normalizer import from_bytes

    candidates = [match.encoding for match in from_bytes(b"\n".join(non_ascii))]
    for preferred in WESTERN_ENCODINGS:
        if preferred in candidates:
            return preferred
    return candidates[0] if candidates else "latin_1"


def _decoded_lines(fh: IO[bytes], encoding: str, bad_lines: set[int]) -> Iterator[str]:
    """Physical lines decoded one by one, so one undecodable line spoils only its own row."""
    for number, raw in enumerate(fh, start=1):
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError:
            bad_lines.add(number)
            yield raw.decode(encoding, "replace")


MAX_ROW_LINES = 200
"""The most physical lines one CSV row may span (a quoted description with line breaks)."""


class _RowTooLong(Exception):
    """A quoted field ran over MAX_ROW_LINES lines: an unbalanced quote, not a description."""


class _Lines:
    """Physical lines, numbered, for csv.reader; the lines of a bad row after its first
    are pushed back and parsed again, so a quoting error spoils only the line it is on."""

    def __init__(self, source: Iterable[str]) -> None:
        self._source = iter(source)
        self._pushed: list[tuple[int, str]] = []
        self._count = 0
        self.taken: list[tuple[int, str]] = []
        """(number, text) of the lines read for the current row."""

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._pushed:
            number, line = self._pushed.pop()
        else:
            line = next(self._source)
            self._count += 1
            number = self._count
        self.taken.append((number, line))
        if len(self.taken) > MAX_ROW_LINES:
            raise _RowTooLong(f"a quoted field runs over {MAX_ROW_LINES} lines")
        return line

    def start_row(self) -> None:
        self.taken = []

    def push_back_after_first(self) -> tuple[int, str]:
        """Give back the current row's lines but its first, which is returned."""
        first, *rest = self.taken
        self._pushed.extend(reversed(rest))
        self.taken = []
        return first


def _delimited_rows(path: Path, delimiter: str, encoding: str | None) -> Iterator[SourceRow]:
    """Rows of a CSV/TSV file. A row whose quoting is broken (a stray or unclosed quote: a
    quoted field running over MAX_ROW_LINES lines or to the end of the file, a row across
    lines with the wrong number of fields, or whose next lines are rows of their own) is
    rejected at its first line, and reading goes on at the line after it."""
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        complete = len(sample) < SAMPLE_BYTES
        encoding = encoding or detect_encoding(sample, complete)
        fh.seek(0)
        bad_lines: set[int] = set()
        if codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
            source: Iterable[str] = io.TextIOWrapper(fh, encoding=encoding, errors="replace")
        else:
            source = _decoded_lines(fh, encoding, bad_lines)
        lines = _Lines(source)

        def reader() -> Iterator[list[str]]:
            if delimiter == "\t":  # TSV convention: no quoting, fields hold no tabs or newlines
                return csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_NONE, strict=True)
            return csv.reader(lines, delimiter=delimiter, strict=True)

        rows = reader()
        try:
            header = next(rows)
        except StopIteration:
            return
        except (csv.Error, _RowTooLong) as exc:
            raise ValueError(f"{path}: cannot read the header row: {exc}") from exc
        if bad_lines:
            raise ValueError(f"{path}: the header row is not valid {encoding}")
        header = [h.strip().lstrip("\ufeff") for h in header]
        if len(set(header)) != len(header):
            raise ValueError(f"{path}: the header row repeats a column name: {header}")
        while True:
            lines.start_row()
            try:
                fields = next(rows)
                problem = _quoting_problem(fields, header, lines.taken, delimiter)
            except StopIteration:
                return
            except (csv.Error, _RowTooLong) as exc:
                problem = str(exc)
            if problem is not None and lines.taken:
                number, text = lines.push_back_after_first()
                yield number, f"malformed row (quoting): {problem}", text.rstrip("\r\n")
                rows = reader()  # re-synchronise at the next physical line
                continue
            first = lines.taken[0][0] if lines.taken else 0
            raw = "".join(text for _, text in lines.taken).rstrip("\r\n")
            if not fields or all(not f.strip() for f in fields):
                continue
            if any(number in bad_lines for number, _ in lines.taken):
                yield first, f"undecodable text (not valid {encoding})", raw
            elif len(fields) != len(header):
                yield first, f"expected {len(header)} fields, got {len(fields)}", raw
            else:
                yield first, dict(zip(header, fields)), raw


def _quoting_problem(
    fields: list[str], header: list[str], taken: list[tuple[int, str]], delimiter: str
) -> str | None:
    """Why a row read across several lines is an unbalanced quote, not a quoted field
    holding line breaks: it has the wrong number of fields, or a line it swallowed is a
    complete row by itself."""
    if len(taken) <= 1:
        return None
    if len(fields) != len(header):
        return f"a quote is not closed on its line ({len(fields)} fields across {len(taken)} lines)"
    for number, text in taken[1:]:
        alone = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), [])
        if len(alone) == len(header):
            return f"a quote is not closed on its line (line {number} is a row by itself)"
    return None


def read_delimited(
    path: Path,
    delimiter: str,
    mapping: FieldMapping = DEFAULT_MAPPING,
    encoding: str | None = None,
    currency: CatalogCurrency | None = None,
    unmapped: Unmapped = "all",
) -> Iterator[Product | Reject]:
    """Products from a CSV/TSV file with a header row; encoding detected unless given."""
    csv.field_size_limit(MAX_CSV_FIELD)
    return _products(_delimited_rows(path, delimiter, encoding), mapping, currency, unmapped)


# --------------------------------------------------------------------------- Parquet


def _parquet_rows(path: Path) -> Iterator[SourceRow]:
    import pyarrow.parquet as pq

    number = 0
    with pq.ParquetFile(path) as parquet:
        for batch in parquet.iter_batches(batch_size=2048):
            for row in batch.to_pylist():
                number += 1
                raw = json.dumps(row, default=repr, ensure_ascii=False)
                decoded: dict[str, Any] = {}
                reason = None
                for key, value in row.items():
                    if isinstance(value, bytes):
                        try:
                            value = value.decode("utf-8")
                        except UnicodeDecodeError:
                            reason = f"undecodable text in column {key!r} (not valid UTF-8)"
                            break
                    decoded[key] = value
                yield number, reason if reason else decoded, raw


def read_parquet(
    path: Path,
    mapping: FieldMapping = DEFAULT_MAPPING,
    currency: CatalogCurrency | None = None,
    unmapped: Unmapped = "all",
) -> Iterator[Product | Reject]:
    """Products from a Parquet file, streamed in record batches; `line` is the 1-based row."""
    return _products(_parquet_rows(path), mapping, currency, unmapped)


# --------------------------------------------------------------------------- catalog


def catalog_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise ValueError(f"unknown format {fmt!r}; formats: jsonl, csv, tsv, parquet")
        return fmt
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"unsupported catalog format {path.suffix!r} "
            f"(supported: {', '.join(sorted(FORMATS))}; or pass the format explicitly)"
        )
    return FORMATS[suffix]


def read_catalog(
    path: str | Path,
    mapping: FieldMapping = DEFAULT_MAPPING,
    encoding: str | None = None,
    fmt: str | None = None,
    currency: CatalogCurrency | None = None,
    unmapped: Unmapped = "all",
) -> Iterator[Product | Reject]:
    """Products and Rejects from a catalog file, in file order.

    `currency` collects the catalog's currency as rows are read (pass one to learn it, or
    `CatalogCurrency("EUR")` to declare it); `unmapped` says which columns no field names
    are kept as attributes ("all", "none" or column names)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"catalog not found: {path}")
    if isinstance(unmapped, str) and unmapped not in ("all", "none"):
        raise ValueError(f"unmapped must be 'all', 'none' or column names, got {unmapped!r}")
    kind = catalog_format(path, fmt)
    if kind == "jsonl":
        return read_jsonl(path, mapping, currency, unmapped)
    if kind == "parquet":
        return read_parquet(path, mapping, currency, unmapped)
    delimiter = "\t" if kind == "tsv" else ","
    return read_delimited(path, delimiter, mapping, encoding, currency, unmapped)


def source_rows(
    path: str | Path, fmt: str | None = None, encoding: str | None = None
) -> Iterator[SourceRow]:
    """Raw rows of any supported file, each with its line number: (line, row, raw text), or
    (line, reason, raw text) for a row that could not be parsed. Other row readers (labels,
    click logs) build on this, so they read files exactly as the catalog readers do."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    kind = catalog_format(path, fmt)
    if kind == "jsonl":
        return _jsonl_rows(path)
    if kind == "parquet":
        return _parquet_rows(path)
    csv.field_size_limit(MAX_CSV_FIELD)
    return _delimited_rows(path, "\t" if kind == "tsv" else ",", encoding)


def count_rows(path: str | Path, fmt: str | None = None) -> int:
    """About how many rows a catalog holds (for progress bars): exact for Parquet and JSONL."""
    path = Path(path)
    kind = catalog_format(path, fmt)
    if kind == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as parquet:
            return int(parquet.metadata.num_rows)
    lines = 0
    with path.open("rb") as fh:
        for line in fh:
            lines += bool(line.strip())
    return lines if kind == "jsonl" else max(lines - 1, 0)
