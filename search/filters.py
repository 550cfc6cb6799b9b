"""Structured filters, evaluated once into a boolean mask over document ordinals.

The same mask restricts both retrievers, so k results come back whenever k
matching products exist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np


def normalise_category(path: str) -> str:
    """Canonical category path: levels stripped, lowercased, joined by " > "."""
    return " > ".join(level.strip().lower() for level in path.split(">") if level.strip())


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    """Category path prefix, matched level by level, case-insensitively."""
    brand: str | None = None
    """Exact brand, case-insensitive."""
    price_min: float | None = None
    price_max: float | None = None
    rating_min: float | None = None
    in_stock: bool | None = None

    def __post_init__(self) -> None:
        for name in ("price_min", "price_max", "rating_min"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not math.isfinite(value)):
                raise ValueError(f"filter {name} must be a finite number, got {value!r}")
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_min > self.price_max
        ):
            raise ValueError(
                f"filter price_min ({self.price_min}) is greater than price_max ({self.price_max})"
            )
        if self.category is not None and not normalise_category(self.category):
            raise ValueError("filter category is empty")

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> Filters:
        """Build from a plain mapping, rejecting unknown keys and wrong types with a reason."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown filter key(s) {', '.join(unknown)}; "
                f"valid keys: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            if key in ("category", "brand"):
                if not isinstance(value, str):
                    raise ValueError(f"filter {key} must be a string, got {value!r}")
                values[key] = value
            elif key == "in_stock":
                values[key] = _parse_bool(key, value)
            else:
                values[key] = _parse_float(key, value)
        return cls(**values)


def _parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"filter {key} must be true or false, got {value!r}")


def _parse_float(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"filter {key} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"filter {key} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"filter {key} must be a finite number, got {value!r}")
    return number


@dataclass
class FilterColumns:
    """Columnar copy of the filterable fields, indexed by document ordinal.

    Brands and category paths are dictionary-encoded so a filter costs one
    vectorised comparison, not a Python loop over the catalog.
    """

    price: np.ndarray  # float64, NaN when unknown
    rating: np.ndarray  # float64, NaN when unknown
    in_stock: np.ndarray  # bool
    brand_code: np.ndarray  # int32 into `brands`
    category_code: np.ndarray  # int32 into `categories`
    brands: list[str]  # lowercased
    categories: list[str]  # normalised paths
    brand_labels: list[str] = field(default_factory=list)
    """Each brand as the catalog spells it (its first product's spelling), for facets."""
    category_labels: list[str] = field(default_factory=list)

    def brand_label(self, code: int) -> str:
        return self.brand_labels[code] if code < len(self.brand_labels) else self.brands[code]

    def category_label(self, code: int) -> str:
        if code < len(self.category_labels):
            return self.category_labels[code]
        return self.categories[code]

    def mask(self, filters: Filters) -> np.ndarray:
        """Boolean mask of ordinals matching every filter (unknown values never match a bound)."""
        keep = np.ones(len(self.price), dtype=bool)
        with np.errstate(invalid="ignore"):
            if filters.price_min is not None:
                keep &= self.price >= filters.price_min
            if filters.price_max is not None:
                keep &= self.price <= filters.price_max
            if filters.rating_min is not None:
                keep &= self.rating >= filters.rating_min
        if filters.in_stock is not None:
            keep &= self.in_stock == filters.in_stock
        if filters.brand is not None:
            wanted = filters.brand.strip().lower()
            codes = [i for i, b in enumerate(self.brands) if b == wanted]
            keep &= np.isin(self.brand_code, codes)
        if filters.category is not None:
            prefix = normalise_category(filters.category)
            codes = [
                i
                for i, c in enumerate(self.categories)
                if c == prefix or c.startswith(prefix + " > ")
            ]
            keep &= np.isin(self.category_code, codes)
        return keep
