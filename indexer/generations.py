"""Writing generations, under the index's writer lock: atomic files, fsync, checksums,
publishing, rollback and garbage collection (the read side is `tinyseek.search.layout`).

A generation is built in a temporary directory beside the others (every file
fsynced), renamed into place, then published by atomically replacing CURRENT.
Readers hold the generation they opened until they choose to move.

Incremental updates are applied to the served generation in place and bump the
manifest's `revision`; see `tinyseek.indexer.writer` for the commit order that keeps a
reader from ever seeing half of an update. Old generations are removed by
`collect_garbage`, which keeps the newest N and always the served one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyseek.checksums import file_sha256
from tinyseek.failpoints import failpoint
from tinyseek.indexer.guard import is_good_build, is_refused, last_good_build, record_rollback
from tinyseek.indexer.lock import WriterLock
from tinyseek.search.integrity import segment_ids

if TYPE_CHECKING:
    from tinyseek.models.encoder import Encoder
from tinyseek.search.layout import (
    BM25_DIR,
    CURRENT,
    GENERATION_PATTERN,
    MANIFEST,
    CorruptGenerationError,
    current_generation,
    list_generations,
    read_manifest,
    served_generation_name,
)


def generation_name(number: int) -> str:
    return f"gen-{number:06d}"


def next_generation_number(index_dir: Path) -> int:
    numbers = [
        int(m.group(1))
        for p in (index_dir.iterdir() if index_dir.is_dir() else [])
        if (m := GENERATION_PATTERN.match(p.name.removeprefix(".tmp-")))
    ]
    return max(numbers, default=0) + 1


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


# Files a generation changes in place, left out of its checksums: the store (checked by
# SQLite instead), tantivy's own bookkeeping (replaced atomically by tantivy on each
# commit) and lock files.
MUTABLE_FILES = ("manifest.json", "bm25/meta.json", "bm25/.managed.json")
MUTABLE_PREFIXES = ("docs.sqlite",)


def is_component_file(rel: str) -> bool:
    """True for the immutable files of a generation, the ones checksums cover."""
    name = rel.rsplit("/", 1)[-1]
    return not (
        rel in MUTABLE_FILES
        or rel.startswith(MUTABLE_PREFIXES)
        or name.endswith(".lock")
        or ".tmp-" in name
    )


def component_checksums(
    gen_dir: Path, known: Mapping[str, str] | None = None, under: str = ""
) -> dict[str, str]:
    """sha256 of every immutable file of a generation (or of its folder `under`), by
    relative path. Files in `known` keep the digest given there: a published file never
    changes, so an in-place commit hashes only the files it wrote."""
    known = known or {}
    root = gen_dir / under if under else gen_dir
    live = _live_segments(gen_dir / BM25_DIR)
    sums: dict[str, str] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(gen_dir).as_posix()
        if not is_component_file(rel):
            continue
        if rel.startswith(f"{BM25_DIR}/") and file.name.split(".", 1)[0] not in live:
            continue  # merged away: tantivy deletes it at its next clean-up
        sums[rel] = known.get(rel) or file_sha256(file)
    return sums


def _live_segments(bm25_dir: Path) -> set[str]:
    """The segments tantivy's meta.json names (none when it cannot be read)."""
    try:
        return segment_ids((bm25_dir / "meta.json").read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def verify_generation(gen_dir: Path) -> list[str]:
    """Problems found verifying a generation as a reader would (empty when sound)."""
    from tinyseek.search.engine import load_generation

    try:
        generation = load_generation(gen_dir)
    except CorruptGenerationError as exc:
        return [str(exc)]
    generation.store.close()
    return []


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Replace `path` as a whole or not at all: `write` fills a temporary sibling, which is
    fsynced and renamed over `path`; then the directory is fsynced so the rename is durable.
    A failure (a full disk) removes the temporary file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        failpoint("write_atomic")
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def write_manifest(gen_dir: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    write_atomic(gen_dir / MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def publish(index_dir: Path, gen_dir: Path) -> None:
    """Make `gen_dir` the served generation by atomically replacing CURRENT."""
    if gen_dir.parent.resolve() != index_dir.resolve():
        raise ValueError(f"{gen_dir} is not inside {index_dir}")
    read_manifest(gen_dir)
    write_atomic(index_dir / CURRENT, lambda tmp: tmp.write_text(gen_dir.name + "\n", "utf-8"))


def previous_generation(index_dir: Path) -> Path:
    """The newest complete generation older than the served one (the rollback target),
    leaving out those whose publish the quality check refused (never served)."""
    served = current_generation(index_dir)
    older = [g for g in list_generations(index_dir) if g.name < served.name and not is_refused(g)]
    if not older:
        raise ValueError(f"{index_dir}: no generation older than {served.name} to roll back to")
    return older[-1]


def collect_garbage(
    index_dir: str | Path,
    keep: int,
    held: WriterLock | None = None,
    lock_wait: float | None = None,
) -> list[Path]:
    """Delete generations beyond the newest `keep` (never the served one) and stale temp dirs.

    A generation the quality check refused does not count towards `keep`: it stays (to be
    published with --force) until a newer generation is served, then goes. While the
    served build is not a good one (forced, or never checked), the last good build stays
    (the service's rollback target).

    Runs under the writer lock (a `.tmp-gen-*` directory is only in use while its writer
    holds it): it takes the lock (waiting up to `lock_wait` seconds), unless the caller
    passes the one it already holds.
    """
    index_dir = Path(index_dir)
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    if held is not None and not held.held:
        raise RuntimeError("collect_garbage was passed a writer lock that is not held")
    with WriterLock(index_dir, timeout=lock_wait) if held is None else contextlib.nullcontext():
        served = served_generation_name(index_dir)
        generations = list_generations(index_dir)
        refused = {g.name for g in generations if is_refused(g)}
        kept = [g for g in generations if g.name not in refused]
        keep_names = {g.name for g in kept[-keep:]}
        keep_names |= {name for name in refused if served is None or name > served}
        if served:
            keep_names.add(served)
            good = None if is_good_build(index_dir / served) else last_good_build(index_dir, served)
            if good is not None:  # what the service rolls this bad build back to
                keep_names.add(good[0].name)
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
            from tinyseek.indexer.journal import Journal
            from tinyseek.indexer.writer import trim_journal

            trim_journal(index_dir, Journal(index_dir))  # the oldest generations went
    return removed


@dataclass(frozen=True)
class GenerationInfo:
    name: str
    served: bool
    created_at: str
    revision: int
    products: int
    tombstones: int
    encoder: str
    quality: str = ""
    """The publish verdict and nDCG@10 on the reference labels, when scored."""


def rollback(
    index_dir: str | Path,
    to: str | None = None,
    lock_wait: float | None = None,
    encoder: Encoder | None = None,
    only_from: str | None = None,
    score: bool = True,
) -> tuple[str, str]:
    """Serve the previous generation (or the named one); returns (from, to) names.

    With `only_from` (the service's automatic rollback), only while that generation is
    the served one and not a good build: when another has been published meanwhile, or
    this one was rolled back to (an operator's choice), nothing is done and (served,
    served) is returned.

    Every acknowledged write the target lacks (the journal's records since it was
    served) is applied to it before it is served (embedded with `encoder`, by default
    the target's own), so rolling back changes the build, never the writes. Rolling
    forward again is `rollback --to` that generation. With reference labels attached the
    target is scored once it serves, after the writer lock is released (writes do not
    wait for it), and the report recorded (`guard.record_rollback`; `score=False` leaves
    that to the caller); a rollback is never refused.
    """
    from tinyseek.indexer.writer import publish_with_writes

    index_dir = Path(index_dir)
    with WriterLock(index_dir, timeout=lock_wait) as lock:
        served = current_generation(index_dir)
        if only_from is not None and (served.name != only_from or is_good_build(served)):
            return served.name, served.name
        if to is None:
            target = previous_generation(index_dir)
        else:
            if not GENERATION_PATTERN.match(to):
                raise ValueError(f"--to expects a generation name like gen-000001, got {to!r}")
            target = index_dir / to
            read_manifest(target)
        publish_with_writes(index_dir, target, lock, encoder, event="rollback")
    if score:
        record_rollback(index_dir, target, encoder, lock_wait)
    return served.name, target.name


def describe_generations(index_dir: str | Path) -> list[GenerationInfo]:
    """Each complete generation, oldest first (from manifests: counts as of the last
    commit whose manifest summary was written)."""
    index_dir = Path(index_dir)
    served = served_generation_name(index_dir)
    infos = []
    for gen in list_generations(index_dir):
        manifest = read_manifest(gen)
        infos.append(
            GenerationInfo(
                name=gen.name,
                served=gen.name == served,
                created_at=str(manifest.get("created_at", "")),
                revision=int(manifest.get("revision", 0)),
                products=int(manifest.get("doc_count", 0)),
                tombstones=int(manifest.get("tombstones", 0)),
                encoder=str(manifest.get("encoder", {}).get("name", "")),
                quality=_quality_note(manifest.get("quality")),
            )
        )
    return infos


def _quality_note(report: object) -> str:
    if not isinstance(report, dict):
        return ""
    ndcg = report.get("configs", {}).get("hybrid", {}).get("ndcg@10")
    score = f" (hybrid nDCG@10 {ndcg:.4f})" if isinstance(ndcg, float) else ""
    return f"{report.get('verdict', '')}{score}"
