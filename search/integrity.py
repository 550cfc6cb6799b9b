"""Verify a generation before it is served: checksums of its files, structure of the rest.

Every file of a generation except the store is immutable once published (an in-place
commit writes new files beside the old ones), so each is checked against the sha256
its generation recorded: the store's meta table (`search.store.StoreMeta.files`), or
the manifest's build checksums for a generation older than that table. A file is hashed
once per process while its inode, size and modification time stay the same; tantivy's
files are checked as they are copied to a private directory the reader maps them from
(`PrivateCopies`). The store, the one file changed in place, gets SQLite's
`PRAGMA quick_check` and a checksum per product row; the retrievers are checked for
holding every ordinal the store has (`search.engine.load_generation`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path

from tinyseek.checksums import file_sha256
from tinyseek.search.layout import CorruptGenerationError

FileKey = tuple[str, int, int, int, int]


class FileVerifier:
    """Checks files against recorded sha256 digests, remembering the files already hashed."""

    def __init__(self) -> None:
        self._known: dict[FileKey, str] = {}
        self._lock = threading.Lock()

    def sha256(self, path: Path) -> str:
        """sha256 of `path`, hashed only when the file changed since it was last hashed here."""
        info = path.stat()
        key = (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        with self._lock:
            known = self._known.get(key)
        if known is not None:
            return known
        digest = file_sha256(path)
        with self._lock:
            if len(self._known) > 100_000:
                self._known.clear()
            self._known[key] = digest
        return digest

    def check(self, root: Path, expected: Mapping[str, str]) -> None:
        """Raise CorruptGenerationError naming the first file that is missing or differs."""
        for rel, digest in sorted(expected.items()):
            path = root / rel
            try:
                actual = self.sha256(path)
            except FileNotFoundError:
                raise CorruptGenerationError(path, "missing") from None
            except OSError as exc:
                problem = f"unreadable: {os.strerror(exc.errno or 0)}"
                raise CorruptGenerationError(path, problem) from None
            if actual != digest:
                raise CorruptGenerationError(
                    path, "checksum mismatch (the file changed after it was published)"
                )


def check_tantivy_meta(bm25_dir: Path) -> None:
    """tantivy's meta.json (replaced by tantivy on every commit, so never checksummed)
    parses and names segments that exist: checked without opening (mapping) the index."""
    meta = bm25_dir / "meta.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        segments = [str(s["segment_id"]).replace("-", "") for s in data["segments"]]
    except FileNotFoundError:
        raise CorruptGenerationError(meta, "missing") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptGenerationError(meta, f"unreadable: {exc}") from None
    names = {p.name.split(".", 1)[0] for p in bm25_dir.iterdir()}
    for segment in segments:
        if segment not in names:
            raise CorruptGenerationError(meta, f"names segment {segment}, which has no files")


class PrivateCopies:
    """Verified private copies of generations' tantivy files, which tantivy memory-maps.

    A memory-mapped file truncated under a running process kills it (SIGBUS), and bytes
    changed in it change what is served. So a reader maps its own copy, made under a
    private temporary directory while checking each file against its recorded sha256:
    what it serves is exactly what it verified, whatever later happens in the index
    directory. Segment files never change once written, so a reload copies only the new
    ones. The directory goes when this object does (or at exit); a killed process's is
    swept by the next one.
    """

    PREFIX = "tinyseek-bm25-"

    def __init__(self, root: Path | None = None) -> None:
        base = Path(tempfile.gettempdir()) if root is None else root
        base.mkdir(parents=True, exist_ok=True)
        _sweep_stale(base, self.PREFIX)
        self.root = Path(tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-", dir=base))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.root), True)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._finalizer()

    def copy(self, source: Path, expected: Mapping[str, str], key: str) -> Path:
        """Copy directory `source` to a private one named after `key`, checking every file
        listed in `expected` (name -> sha256); returns the copy. Files `expected` does not
        list (tantivy's meta.json, the segments of a commit still in progress) are copied
        unchecked: they can only add documents the store does not call alive."""
        target = self.root / key
        with self._lock:
            target.mkdir(parents=True, exist_ok=True)
            try:
                names = {p.name for p in source.iterdir() if p.is_file()}
            except OSError as exc:
                raise CorruptGenerationError(source, f"unreadable: {exc}") from None
            for name in sorted(expected):
                if name not in names:
                    raise CorruptGenerationError(source / name, "missing")
            for name in sorted(names):
                if name.endswith(".lock"):
                    continue
                immutable = name in expected
                if immutable and (target / name).is_file():
                    continue  # copied and verified by an earlier load
                _copy_checked(source / name, target / name, expected.get(name))
            for stale in (p for p in target.iterdir() if p.name not in names):
                with contextlib.suppress(OSError):
                    stale.unlink()  # a mapping of it stays valid until unmapped
        return target


def _copy_checked(source: Path, target: Path, digest: str | None) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    sha = hashlib.sha256()
    try:
        with source.open("rb") as src, tmp.open("wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                sha.update(chunk)
                dst.write(chunk)
    except FileNotFoundError:
        tmp.unlink(missing_ok=True)
        raise CorruptGenerationError(source, "missing") from None
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CorruptGenerationError(source, f"unreadable: {exc}") from None
    if digest is not None and sha.hexdigest() != digest:
        tmp.unlink(missing_ok=True)
        raise CorruptGenerationError(
            source, "checksum mismatch (the file changed after it was published)"
        )
    os.replace(tmp, target)


def _sweep_stale(base: Path, prefix: str) -> None:
    """Remove copies left by processes that no longer run (killed ones)."""
    for path in base.glob(f"{prefix}*"):
        pid_text = path.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue
