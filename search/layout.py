"""On-disk layout of an index directory and its generations, as readers see it.

    INDEX_DIR/
      CURRENT                  name of the served generation (replaced atomically)
      journal/                 write-ahead journal of acknowledged writes (indexer.journal)
      gen-000042/
        manifest.json          format version, encoder, dense/bm25 settings, build checksums
        dense.faiss            FAISS index, ids are document ordinals (an in-place commit
                               writes dense.r000001.faiss, ...: published files never change)
        bm25/                  tantivy index (its segment files never change either)
        docs.sqlite            products by ordinal, with tombstones; the commit point: its
                               meta table names the revision, the dense file and the checksum
                               of every other file (search.store.StoreMeta)
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


class CorruptGenerationError(RuntimeError):
    """A generation failed verification; the message names the file and what is wrong."""

    exit_code = 5  # tinyseek.errors.EXIT_CORRUPT

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


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
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        problem = "is not text (expected a name like gen-000001)"
        raise CorruptGenerationError(pointer, problem) from None
    if not GENERATION_PATTERN.match(name):
        raise CorruptGenerationError(
            pointer, f"holds {name[:40]!r}, expected a name like gen-000001"
        )
    gen = index_dir / name
    if not (gen / MANIFEST).is_file():
        raise CorruptGenerationError(pointer, f"names {name}, but {gen / MANIFEST} does not exist")
    return gen


def read_manifest(gen_dir: Path) -> dict[str, Any]:
    """The manifest, checked for what every reader relies on (format and encoder)."""
    path = gen_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptGenerationError(path, "missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptGenerationError(path, f"is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise CorruptGenerationError(path, "is not a JSON object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path}: format_version {version!r} is not supported (expected {FORMAT_VERSION}); "
            "rebuild the index with this version: tinyseek index CATALOG --out INDEX_DIR"
        )
    encoder = manifest.get("encoder")
    if not (isinstance(encoder, dict) and isinstance(encoder.get("name"), str)):
        raise CorruptGenerationError(path, "has no valid 'encoder' entry (name, source, dim)")
    if not isinstance(encoder.get("dim"), int):
        raise CorruptGenerationError(path, "has no valid 'encoder' entry (name, source, dim)")
    return manifest


def served_generation_name(index_dir: Path) -> str | None:
    """The name CURRENT holds, or None when there is no CURRENT yet (or it is unreadable)."""
    pointer = index_dir / CURRENT
    try:
        return pointer.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None
