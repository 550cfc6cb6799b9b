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
from tinyseek.search.layout import BM25_DIR, CorruptGenerationError

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

    def remember(self, root: Path, digests: Mapping[str, str]) -> None:
        """Record digests a writer just computed for files it wrote (not hashed again)."""
        for rel, digest in digests.items():
            try:
                info = (root / rel).stat()
            except OSError:
                continue
            key = (str(root / rel), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            with self._lock:
                self._known[key] = digest

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


def check_files(gen_dir: Path, files: Mapping[str, str], verifier: FileVerifier) -> None:
    """Check a generation's files on disk against the checksums its store recorded; tantivy's
    only for the segments its meta.json names now (an interrupted commit may have merged
    others away), and that meta.json itself (replaced on every commit, so never
    checksummed) parses and names segments that exist. Nothing is opened or mapped."""
    bm25_dir = gen_dir / BM25_DIR
    meta = bm25_dir / "meta.json"
    try:
        segments = segment_ids(meta.read_bytes())
        names = {p.name for p in bm25_dir.iterdir()}
    except FileNotFoundError:
        raise CorruptGenerationError(meta, "missing") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptGenerationError(meta, f"unreadable: {exc}") from None
    prefix = f"{BM25_DIR}/"
    live = {
        rel: digest
        for rel, digest in files.items()
        if not rel.startswith(prefix) or rel[len(prefix) :].split(".", 1)[0] in segments
    }
    verifier.check(gen_dir, live)
    present = {name.split(".", 1)[0] for name in names}
    for segment in sorted(segments - present):
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
        self._verified: dict[str, set[str]] = {}

    def close(self) -> None:
        self._finalizer()

    def retain(self, keys: set[str]) -> None:
        """Delete the copies of other generations (a reader still mapping them keeps its
        mappings: unlinked files live until unmapped)."""
        with self._lock:
            for path in self.root.iterdir():
                if path.name not in keys:
                    shutil.rmtree(path, ignore_errors=True)
                    self._verified.pop(path.name, None)

    def copy(self, source: Path, expected: Mapping[str, str], key: str) -> Path:
        """Copy tantivy directory `source` to a private one named after `key`; returns it.

        meta.json is read first and only the segments it names are copied (a writer
        writes a segment's files before naming it there), each file listed in `expected`
        (name -> sha256) checked against its digest; a file `expected` does not list
        belongs to a commit newer than the store state being loaded and can only add
        documents the store does not call alive.
        """
        target = self.root / key
        with self._lock:
            target.mkdir(parents=True, exist_ok=True)
            verified = self._verified.setdefault(key, set())
            meta_path = source / "meta.json"
            try:
                meta = meta_path.read_bytes()
                segments = segment_ids(meta)
                names = {p.name for p in source.iterdir() if p.is_file()}
            except FileNotFoundError:
                raise CorruptGenerationError(meta_path, "missing") from None
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CorruptGenerationError(meta_path, f"unreadable: {exc}") from None
            wanted = {name for name in names if name.split(".", 1)[0] in segments}
            for name in sorted(expected):
                if name.split(".", 1)[0] in segments and name not in names:
                    raise CorruptGenerationError(source / name, "missing")
            for name in sorted(wanted):
                if name in verified:
                    continue  # segment files never change: copied and checked before
                _copy_checked(source / name, target / name, expected.get(name))
                if name in expected:
                    verified.add(name)
            for segment in segments:
                if not any(name.startswith(segment) for name in wanted):
                    raise CorruptGenerationError(
                        meta_path, f"names segment {segment}, which has no files"
                    )
            kept = wanted | {"meta.json", ".managed.json"}
            if ".managed.json" in names:
                _copy_checked(source / ".managed.json", target / ".managed.json", None)
            tmp = target / ".meta.json.tmp"
            tmp.write_bytes(meta)
            os.replace(tmp, target / "meta.json")
            for stale in (p for p in target.iterdir() if p.name not in kept):
                verified.discard(stale.name)
                with contextlib.suppress(OSError):
                    stale.unlink()  # a mapping of it stays valid until unmapped
        return target


def segment_ids(meta: bytes) -> set[str]:
    """The segments a tantivy meta.json names (ids as its file names spell them)."""
    data = json.loads(meta)
    return {str(segment["segment_id"]).replace("-", "") for segment in data["segments"]}


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
