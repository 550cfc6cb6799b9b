"""Index directories in object storage (`s3://`, `gs://`, `file://`, any fsspec URL).

    tinyseek push-index INDEX_DIR URL     upload the served generation, then URL/CURRENT
    tinyseek pull-index URL INDEX_DIR     download URL's served generation and serve it

The remote layout is the local one, for the served generation only: URL/gen-NNNNNN/... and
URL/CURRENT, written last, so a reader never sees a CURRENT naming a generation that is
not whole. A pull downloads into a temporary directory, verifies the generation as a
reader would (manifest, checksums, store; `verify_generation`), renames it into place and
replaces CURRENT atomically: an interrupted pull (a pod evicted mid-download) leaves the
previous state, and a pull of a generation already present and sound downloads nothing,
so an init container can run it on every start. The pulled directory is a read-only
replica: it has no journal, and writes go to the index the indexer publishes from.

s3:// needs s3fs (pip install 'tinyseek[s3]'), gs:// gcsfs; credentials and endpoints come
from the usual environment (AWS_*, GOOGLE_APPLICATION_CREDENTIALS) or `storage_options`.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyseek.indexer.generations import fsync_tree, verify_generation, write_atomic
from tinyseek.search.layout import (
    CURRENT,
    GENERATION_PATTERN,
    CorruptGenerationError,
    current_generation,
)

log = logging.getLogger(__name__)

PROTOCOL_EXTRAS = {"s3": ("s3", "s3fs"), "s3a": ("s3", "s3fs"), "gs": ("gcs", "gcsfs")}


@dataclass(frozen=True)
class Transfer:
    generation: str
    files: int
    bytes: int
    skipped: bool = False
    """Nothing was copied: the generation was already there and sound."""


def _filesystem(url: str, storage_options: dict[str, Any] | None) -> tuple[Any, str]:
    from tinyseek.extras import require

    protocol = url.split("://", 1)[0] if "://" in url else "file"
    if protocol in PROTOCOL_EXTRAS:
        extra, module = PROTOCOL_EXTRAS[protocol]
        require(extra, module)
    import fsspec

    fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    return fs, str(root).rstrip("/")


def push_index(
    index_dir: str | Path, url: str, storage_options: dict[str, Any] | None = None
) -> Transfer:
    """Upload the served generation of `index_dir` to `url`, then point URL/CURRENT at it."""
    gen = current_generation(Path(index_dir))
    problems = verify_generation(gen)
    if problems:
        raise CorruptGenerationError(gen, "; ".join(problems))
    fs, root = _filesystem(url, storage_options)
    files = sorted(p for p in gen.rglob("*") if p.is_file() and not p.name.startswith("."))
    size = 0
    for path in files:
        target = f"{root}/{gen.name}/{path.relative_to(gen).as_posix()}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(path), target)
        size += path.stat().st_size
    fs.pipe_file(f"{root}/{CURRENT}", (gen.name + "\n").encode())
    log.info("pushed %s (%d files, %d bytes) to %s", gen.name, len(files), size, url)
    return Transfer(gen.name, len(files), size)


def pull_index(
    url: str, index_dir: str | Path, storage_options: dict[str, Any] | None = None
) -> Transfer:
    """Download the generation URL/CURRENT names into `index_dir` and serve it there."""
    index_dir = Path(index_dir)
    fs, root = _filesystem(url, storage_options)
    try:
        name = fs.cat_file(f"{root}/{CURRENT}").decode().strip()
    except FileNotFoundError:
        raise FileNotFoundError(f"{url}: no {CURRENT} file (push an index there first)") from None
    if not GENERATION_PATTERN.match(name):
        raise ValueError(f"{url}/{CURRENT} names {name!r}, not a generation (gen-NNNNNN)")
    index_dir.mkdir(parents=True, exist_ok=True)
    final = index_dir / name
    if final.is_dir() and not verify_generation(final):
        _point_current(index_dir, name)
        return Transfer(name, 0, 0, skipped=True)
    tmp = index_dir / f".tmp-pull-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    files = [f for f in fs.find(f"{root}/{name}") if not f.rstrip("/").endswith("/")]
    size = 0
    for remote in files:
        relative = remote[len(f"{root}/{name}/") :] if remote.startswith(root) else None
        if relative is None:  # some filesystems return paths without the protocol's root
            relative = remote.split(f"/{name}/", 1)[1]
        local = tmp / relative
        local.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(remote, str(local))
        size += local.stat().st_size
    problems = verify_generation(tmp)
    if problems:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CorruptGenerationError(Path(f"{url}/{name}"), "; ".join(problems))
    fsync_tree(tmp)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    _point_current(index_dir, name)
    log.info("pulled %s (%d files, %d bytes) from %s", name, len(files), size, url)
    return Transfer(name, len(files), size)


def _point_current(index_dir: Path, name: str) -> None:
    write_atomic(index_dir / CURRENT, lambda tmp: tmp.write_text(name + "\n", encoding="utf-8"))


__all__ = ["Transfer", "pull_index", "push_index"]
