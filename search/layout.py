"""On-disk layout of an index directory and its generations, as readers see it.

    INDEX_DIR/
      CURRENT                  name of the served generation (replaced atomically)
      gen-000042/
        manifest.json          format version, counts, encoder, dense/bm25 settings, checksums
        dense.faiss            FAISS index, ids are document ordinals
        bm25/                  tantivy index
        docs.sqlite            products by ordinal, with tombstones
        encoder/               copy of the compact encoder artifact (absent for the teacher)

Generations are written, published and garbage-collected by the indexer
(`tinyseek.indexer.generations`); readers hold the generation they opened until they
choose to move.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FORMAT_VERSION = 2
"""2: the BM25 index has the `all` + `title` fields (1 had one field per product field)."""
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
DENSE_FILE = "dense.faiss"
BM25_DIR = "bm25"
DOCS_FILE = "docs.sqlite"
ENCODER_DIR = "encoder"
GENERATION_PATTERN = re.compile(r"^gen-(\d{6})$")


def list_generations(index_dir: Path) -> list[Path]:
    """Complete generation directories (those with a manifest), oldest first."""
    if not index_dir.is_dir():
        return []
    found = [
        p
        for p in index_dir.iterdir()
        if p.is_dir() and GENERATION_PATTERN.match(p.name) and (p / MANIFEST).is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def current_generation(index_dir: Path) -> Path:
    """The generation CURRENT points to, with a clear error when the layout is wrong."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise FileNotFoundError(
            f"{index_dir} is not a tinyseek index: no {CURRENT} file "
            f"(expected {CURRENT} naming a gen-NNNNNN/ directory; build one with `tinyseek index`)"
        )
    name = pointer.read_text(encoding="utf-8").strip()
    if not GENERATION_PATTERN.match(name):
        raise ValueError(f"{pointer} holds {name!r}, expected a name like gen-000001")
    gen = index_dir / name
    if not (gen / MANIFEST).is_file():
        raise FileNotFoundError(f"{pointer} names {name}, but {gen / MANIFEST} does not exist")
    return gen


def read_manifest(gen_dir: Path) -> dict[str, Any]:
    path = gen_dir / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path}: format_version {version!r} is not supported (expected {FORMAT_VERSION}); "
            "rebuild the index with this version: tinyseek index CATALOG --out INDEX_DIR"
        )
    return manifest


def served_generation_name(index_dir: Path) -> str | None:
    """The name CURRENT holds, or None when there is no CURRENT yet."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    return pointer.read_text(encoding="utf-8").strip() or None
