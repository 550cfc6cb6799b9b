"""Search: `Engine` (open an index directory, search it), retrievers, fusion, filters, cache.

Names are imported lazily so `tinyseek --help` (which imports `search.commands`) does not
load FAISS and tantivy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinyseek.search.engine import Engine
    from tinyseek.search.facets import FacetRequest
    from tinyseek.search.filters import Filters
    from tinyseek.search.types import (
        FusionMethod,
        FusionWeights,
        Hit,
        Product,
        SearchMode,
        SearchPage,
        SortOrder,
    )

_EXPORTS = {
    "Engine": "tinyseek.search.engine",
    "FacetRequest": "tinyseek.search.facets",
    "Filters": "tinyseek.search.filters",
    "FusionMethod": "tinyseek.search.types",
    "FusionWeights": "tinyseek.search.types",
    "Hit": "tinyseek.search.types",
    "Product": "tinyseek.search.types",
    "SearchMode": "tinyseek.search.types",
    "SearchPage": "tinyseek.search.types",
    "SortOrder": "tinyseek.search.types",
}
__all__ = [
    "Engine",
    "FacetRequest",
    "Filters",
    "FusionMethod",
    "FusionWeights",
    "Hit",
    "Product",
    "SearchMode",
    "SearchPage",
    "SortOrder",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tinyseek.search' has no attribute {name!r}")
