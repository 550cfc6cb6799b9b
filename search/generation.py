"""On-disk layout of an index directory and its generations.

    INDEX_DIR/
      CURRENT                  name of the served generation (replaced atomically)
      gen-000042/
        manifest.json          format version, counts, encoder, dense/bm25 settings, checksums
        dense.faiss            FAISS index, ids are document ordinals
        bm25/                  tantivy index
        docs.sqlite            products by ordinal, with tombstones
        encoder/               copy of the compact encoder artifact (absent for the teacher)

A generation is built in a temporary directory beside the others (every file
fsynced), renamed into place, then published by atomically replacing CURRENT.
Readers hold the generation they opened until they choose to move.

Incremental updates are applied to the served generation in place and bump the
manifest's `revision`; see `indexer.writer` for the commit order that keeps a
reader from ever seeing half of an update. Old generations are removed by
`collect_garbage`, which keeps the newest N and always the served one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from tinyseek.checksums import file_sha256

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


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a directory's fsync makes renames in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under `root` (and `root` itself)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            fsync_path(Path(dirpath) / filename)
        fsync_path(Path(dirpath))


def component_checksums(gen_dir: Path) -> dict[str, str]:
    """sha256 of every component file of a generation, by relative path.

    The manifest itself and lock files (which tantivy and the writer create and
    touch) are left out.
    """
    sums: dict[str, str] = {}
    for file in sorted(p for p in gen_dir.rglob("*") if p.is_file()):
        rel = file.relative_to(gen_dir).as_posix()
        if rel == MANIFEST or file.name.endswith(".lock") or ".tmp-" in file.name:
            continue
        sums[rel] = file_sha256(file)
    return sums


def verify_generation(gen_dir: Path) -> list[str]:
    """Problems found comparing a generation's files with its manifest (empty when sound)."""
    manifest = read_manifest(gen_dir)
    expected: dict[str, str] = manifest.get("checksums", {})
    problems = []
    for rel, digest in sorted(expected.items()):
        path = gen_dir / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif file_sha256(path) != digest:
            problems.append(f"{rel}: checksum mismatch")
    return problems


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


def write_file_atomic(path: Path, text: str) -> None:
    """Write to a temporary sibling, fsync, rename over `path`, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


def write_manifest(gen_dir: Path, manifest: dict[str, Any]) -> None:
    write_file_atomic(gen_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def publish(index_dir: Path, gen_dir: Path) -> None:
    """Make `gen_dir` the served generation by atomically replacing CURRENT."""
    if gen_dir.parent.resolve() != index_dir.resolve():
        raise ValueError(f"{gen_dir} is not inside {index_dir}")
    read_manifest(gen_dir)
    write_file_atomic(index_dir / CURRENT, gen_dir.name + "\n")


def served_generation_name(index_dir: Path) -> str | None:
    """The name CURRENT holds, or None when there is no CURRENT yet."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    return pointer.read_text(encoding="utf-8").strip() or None


def previous_generation(index_dir: Path) -> Path:
    """The newest complete generation older than the served one (the rollback target)."""
    served = current_generation(index_dir)
    older = [g for g in list_generations(index_dir) if g.name < served.name]
    if not older:
        raise ValueError(f"{index_dir}: no generation older than {served.name} to roll back to")
    return older[-1]


def collect_garbage(index_dir: Path, keep: int) -> list[Path]:
    """Delete generations beyond the newest `keep` (never the served one) and stale temp dirs.

    The caller must hold the writer lock: a `.tmp-gen-*` directory is only in use
    while its writer holds it.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    served = served_generation_name(index_dir)
    generations = list_generations(index_dir)
    keep_names = {g.name for g in generations[-keep:]}
    if served:
        keep_names.add(served)
    removed = []
    for gen in generations:
        if gen.name not in keep_names:
            shutil.rmtree(gen)
            removed.append(gen)
    for path in index_dir.iterdir() if index_dir.is_dir() else []:
        incomplete = GENERATION_PATTERN.match(path.name) and not (path / MANIFEST).is_file()
        stale = path.name.startswith(".tmp-gen-") or incomplete
        if path.is_dir() and stale and path.name != served:
            shutil.rmtree(path)
            removed.append(path)
    if removed:
        fsync_path(index_dir)
    return removed
