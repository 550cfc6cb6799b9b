"""On-disk layout of an index directory and its generations.

    INDEX_DIR/
      CURRENT                  name of the served generation (replaced atomically)
      gen-000042/
        manifest.json          format version, counts, encoder, dense/bm25 settings, checksums
        dense.faiss            FAISS index, ids are document ordinals
        bm25/                  tantivy index
        docs.sqlite            products by ordinal, with tombstones
        encoder/               copy of the compact encoder artifact (absent for the teacher)

A generation is built in a temporary directory beside the others, renamed into
place, then published by atomically replacing CURRENT. Readers hold the
generation they opened until they choose to move.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
DENSE_FILE = "dense.faiss"
BM25_DIR = "bm25"
DOCS_FILE = "docs.sqlite"
ENCODER_DIR = "encoder"
GENERATION_PATTERN = re.compile(r"^gen-(\d{6})$")


def generation_name(number: int) -> str:
    return f"gen-{number:06d}"


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


def next_generation_number(index_dir: Path) -> int:
    numbers = [
        int(m.group(1))
        for p in (index_dir.iterdir() if index_dir.is_dir() else [])
        if (m := GENERATION_PATTERN.match(p.name.removeprefix(".tmp-")))
    ]
    return max(numbers, default=0) + 1


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
            f"{path}: format_version {version!r} is not supported (expected {FORMAT_VERSION})"
        )
    return manifest


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path: Path, text: str) -> None:
    """Write to a temporary sibling, fsync, rename over `path`, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_manifest(gen_dir: Path, manifest: dict[str, Any]) -> None:
    write_file_atomic(gen_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def publish(index_dir: Path, gen_dir: Path) -> None:
    """Make `gen_dir` the served generation by atomically replacing CURRENT."""
    if gen_dir.parent.resolve() != index_dir.resolve():
        raise ValueError(f"{gen_dir} is not inside {index_dir}")
    read_manifest(gen_dir)
    write_file_atomic(index_dir / CURRENT, gen_dir.name + "\n")
