"""sha256 of files and of directory trees, read in 1 MiB chunks."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def _feed(digest: Any, path: Path) -> None:
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    _feed(digest, Path(path))
    return digest.hexdigest()


def tree_sha256(root: Path, pattern: str = "*") -> str:
    """sha256 over the relative names and bytes of the files under `root` matching
    `pattern`, in sorted order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob(pattern) if p.is_file()):
        digest.update(str(file.relative_to(root)).encode())
        _feed(digest, file)
    return digest.hexdigest()
