"""tinyseek: lightweight hybrid (BM25 + compact dense) search for product catalogs.

The library in a few names::

    from tinyseek import Engine, Product, build_index, load_encoder, read_catalog

Names load on first use (PEP 562), so `import tinyseek` stays cheap.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinyseek.indexer.build import build_catalog, build_index, compact
    from tinyseek.indexer.generations import rollback
    from tinyseek.indexer.readers import read_catalog
    from tinyseek.indexer.writer import IndexWriter
    from tinyseek.models.encoder import Encoder, load_encoder
    from tinyseek.search.engine import Engine
    from tinyseek.search.facets import FacetRequest
    from tinyseek.search.filters import Filters
    from tinyseek.search.types import FusionWeights, Hit, Product, SearchMode, SearchPage, SortOrder

__version__ = version("tinyseek")

_EXPORTS = {
    "Engine": "tinyseek.search.engine",
    "FacetRequest": "tinyseek.search.facets",
    "Filters": "tinyseek.search.filters",
    "FusionWeights": "tinyseek.search.types",
    "Hit": "tinyseek.search.types",
    "Product": "tinyseek.search.types",
    "SearchMode": "tinyseek.search.types",
    "SearchPage": "tinyseek.search.types",
    "SortOrder": "tinyseek.search.types",
    "build_catalog": "tinyseek.indexer.build",
    "build_index": "tinyseek.indexer.build",
    "compact": "tinyseek.indexer.build",
    "rollback": "tinyseek.indexer.generations",
    "read_catalog": "tinyseek.indexer.readers",
    "IndexWriter": "tinyseek.indexer.writer",
    "Encoder": "tinyseek.models.encoder",
    "load_encoder": "tinyseek.models.encoder",
}
__all__ = [
    "Encoder",
    "Engine",
    "FacetRequest",
    "Filters",
    "FusionWeights",
    "Hit",
    "IndexWriter",
    "Product",
    "SearchMode",
    "SearchPage",
    "SortOrder",
    "__version__",
    "build_catalog",
    "build_index",
    "compact",
    "load_encoder",
    "read_catalog",
    "rollback",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'tinyseek' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
