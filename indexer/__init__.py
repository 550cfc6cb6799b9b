"""The batch indexer: read catalogs, embed, write and publish index generations, update them.

Names are imported lazily so `tinyseek --help` (which imports `indexer.cli`)
does not load FAISS and tantivy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinyseek.indexer.build import (
        BuildStats,
        NoProductsError,
        build_catalog,
        build_index,
        compact,
    )
    from tinyseek.indexer.checkpoint import CheckpointMismatchError
    from tinyseek.indexer.generations import collect_garbage, rollback
    from tinyseek.indexer.lock import WriterLockedError
    from tinyseek.indexer.readers import Reject, read_catalog
    from tinyseek.indexer.writer import CommitStats, IndexWriter

_EXPORTS = {
    "BuildStats": "tinyseek.indexer.build",
    "NoProductsError": "tinyseek.indexer.build",
    "build_catalog": "tinyseek.indexer.build",
    "build_index": "tinyseek.indexer.build",
    "compact": "tinyseek.indexer.build",
    "CheckpointMismatchError": "tinyseek.indexer.checkpoint",
    "collect_garbage": "tinyseek.indexer.generations",
    "rollback": "tinyseek.indexer.generations",
    "WriterLockedError": "tinyseek.indexer.lock",
    "Reject": "tinyseek.indexer.readers",
    "read_catalog": "tinyseek.indexer.readers",
    "CommitStats": "tinyseek.indexer.writer",
    "IndexWriter": "tinyseek.indexer.writer",
}
__all__ = [
    "BuildStats",
    "CheckpointMismatchError",
    "CommitStats",
    "IndexWriter",
    "NoProductsError",
    "Reject",
    "WriterLockedError",
    "build_catalog",
    "build_index",
    "collect_garbage",
    "compact",
    "read_catalog",
    "rollback",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'indexer' has no attribute {name!r}")
