"""The batch indexer: read catalogs, embed, write and publish index generations, update them.

Names are imported lazily so `tinyseek --help` (which imports `indexer.cli`)
does not load FAISS and tantivy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexer.build import BuildStats, NoProductsError, build_catalog, build_index, compact
    from indexer.checkpoint import CheckpointMismatchError
    from indexer.generations import garbage_collect, rollback
    from indexer.lock import WriterLockedError
    from indexer.readers import Reject, read_catalog
    from indexer.writer import CommitStats, IndexWriter

_EXPORTS = {
    "BuildStats": "indexer.build",
    "NoProductsError": "indexer.build",
    "build_catalog": "indexer.build",
    "build_index": "indexer.build",
    "compact": "indexer.build",
    "CheckpointMismatchError": "indexer.checkpoint",
    "garbage_collect": "indexer.generations",
    "rollback": "indexer.generations",
    "WriterLockedError": "indexer.lock",
    "Reject": "indexer.readers",
    "read_catalog": "indexer.readers",
    "CommitStats": "indexer.writer",
    "IndexWriter": "indexer.writer",
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
    "compact",
    "garbage_collect",
    "read_catalog",
    "rollback",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'indexer' has no attribute {name!r}")
