"""Catalog readers: rows in, `Product` records or `Reject`s (with line number and reason) out."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.types import Product

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
}


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    raw: str


def _pick(row: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in row and row[name] not in (None, ""):
            return row[name]
    return None


def _number(field: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a number, got {value!r}")
    try:
        number = float(str(value).strip().lstrip("$").replace(",", ""))
    except ValueError:
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite, got {value!r}")
    return number


def _boolean(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "in stock", "in_stock"):
        return True
    if text in ("false", "0", "no", "n", "out of stock", "out_of_stock"):
        return False
    raise ValueError(f"in_stock must be a boolean, got {value!r}")


def product_from_row(
    row: Mapping[str, Any], mapping: Mapping[str, tuple[str, ...]] = DEFAULT_MAPPING
) -> Product:
    """Map one source row onto a Product; raises ValueError naming the bad field."""
    raw_id = _pick(row, mapping["id"])
    if raw_id is None or not str(raw_id).strip():
        raise ValueError("missing id")
    title = _pick(row, mapping["title"])
    if title is None or not str(title).strip():
        raise ValueError("missing title")
    category = _pick(row, mapping["category"])
    if isinstance(category, list):
        category = " > ".join(str(c) for c in category)
    attributes = _pick(row, mapping["attributes"]) or {}
    if isinstance(attributes, str):
        attributes = json.loads(attributes)
    if not isinstance(attributes, Mapping):
        raise ValueError(f"attributes must be an object, got {type(attributes).__name__}")
    rating = _number("rating", _pick(row, mapping["rating"]))
    if rating is not None and not 0 <= rating <= 5:
        raise ValueError(f"rating must be within 0-5, got {rating}")
    return Product(
        id=str(raw_id).strip(),
        title=str(title).strip(),
        description=str(_pick(row, mapping["description"]) or "").strip(),
        brand=str(_pick(row, mapping["brand"]) or "").strip(),
        category=str(category or "").strip(),
        price=_number("price", _pick(row, mapping["price"])),
        rating=rating,
        in_stock=_boolean(_pick(row, mapping["in_stock"])),
        attributes={str(k): str(v) for k, v in attributes.items()},
    )


def read_jsonl(
    path: Path, mapping: Mapping[str, tuple[str, ...]] = DEFAULT_MAPPING
) -> Iterator[Product | Reject]:
    """Products from a JSON Lines file; bad lines (and repeated ids) become Rejects."""
    seen: set[str] = set()
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
                if not isinstance(row, dict):
                    raise ValueError(f"expected a JSON object, got {type(row).__name__}")
                product = product_from_row(row, mapping)
            except (ValueError, UnicodeDecodeError) as exc:
                yield Reject(number, str(exc), raw.decode("utf-8", "replace")[:500])
                continue
            if product.id in seen:
                yield Reject(number, f"duplicate id {product.id!r}", raw.decode("utf-8")[:500])
                continue
            seen.add(product.id)
            yield product


def read_catalog(path: str | Path) -> Iterator[Product | Reject]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"catalog not found: {path}")
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    raise ValueError(f"unsupported catalog format {path.suffix!r} (supported: .jsonl)")
