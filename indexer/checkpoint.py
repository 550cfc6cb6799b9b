"""Checkpoints of a catalog build: embedded batches as .npy shards plus a progress file.

    INDEX_DIR/.checkpoint/
      progress.json       catalog checksum, encoder, mapping, rows consumed, shard sizes
      shard-000000.npy    float32 vectors of the products of one chunk, in catalog order

A shard is written (temporary name, fsync, rename) before progress.json names
it, and progress.json itself is replaced atomically, so after a crash at any
instant the progress file describes shards that are complete on disk; a shard
file it does not name yet is overwritten on resume.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyseek.indexer.generations import fsync_path, write_atomic

CHECKPOINT_DIR = ".checkpoint"
PROGRESS_FILE = "progress.json"
PROGRESS_VERSION = 1


class CheckpointMismatchError(ValueError):
    """The checkpoint belongs to another catalog, encoder or mapping than this job."""


@dataclass
class BuildProgress:
    catalog: str
    catalog_sha256: str
    encoder: str
    dim: int
    mapping: dict[str, list[str]]
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    rows_consumed: int = 0
    """Reader items (products and rejects) whose products are all in shards."""
    shards: list[int] = field(default_factory=list)
    """Rows in each shard, in order."""
    embedded: bool = False
    """Every product of the catalog is in a shard."""
    generation: str | None = None
    """Name of the generation being assembled from the shards, once assembly began."""
    expected_rows: int | None = None
    """The catalog's row count when the job started: it chooses the dense index's kind."""
    version: int = PROGRESS_VERSION

    @property
    def products_embedded(self) -> int:
        return sum(self.shards)

    def check_matches(self, other: BuildProgress) -> None:
        """Refuse to resume when the catalog, encoder or mapping changed."""
        problems = []
        if self.catalog_sha256 != other.catalog_sha256:
            problems.append(f"the catalog changed (checksum differs from {self.catalog})")
        if (self.encoder, self.dim) != (other.encoder, other.dim):
            problems.append(
                f"the encoder differs (checkpoint: {self.encoder} dim {self.dim}; "
                f"now: {other.encoder} dim {other.dim})"
            )
        if self.mapping != other.mapping:
            problems.append("the field mapping differs")
        if problems:
            raise CheckpointMismatchError(
                "cannot resume: " + "; ".join(problems) + ". Run without --resume to start over."
            )


class Checkpoint:
    """The checkpoint directory of one index directory (one build at a time: the writer lock)."""

    def __init__(self, index_dir: Path) -> None:
        self.path = index_dir / CHECKPOINT_DIR

    def exists(self) -> bool:
        return (self.path / PROGRESS_FILE).is_file()

    def load(self) -> BuildProgress | None:
        file = self.path / PROGRESS_FILE
        if not file.is_file():
            return None
        data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        if data.get("version") != PROGRESS_VERSION:
            raise CheckpointMismatchError(
                f"{file}: checkpoint version {data.get('version')!r} is not supported; "
                "run without --resume to start over"
            )
        return BuildProgress(**data)

    def start(self, progress: BuildProgress) -> None:
        self.clear()
        self.path.mkdir(parents=True)
        self.save(progress)

    def save(self, progress: BuildProgress) -> None:
        text = json.dumps(asdict(progress), indent=1)
        write_atomic(self.path / PROGRESS_FILE, lambda tmp: tmp.write_text(text, "utf-8"))

    def shard_path(self, number: int) -> Path:
        return self.path / f"shard-{number:06d}.npy"

    def write_shard(self, number: int, vectors: np.ndarray) -> None:
        def save(tmp: Path) -> None:
            with tmp.open("wb") as fh:
                np.save(fh, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)

        write_atomic(self.shard_path(number), save)

    def has_shard(self, number: int, rows: int, dim: int) -> bool:
        """A complete shard of this shape is on disk (shards are renamed into place whole)."""
        try:
            vectors = np.load(self.shard_path(number), mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return False
        return bool(vectors.shape == (rows, dim) and vectors.dtype == np.float32)

    def read_shard(self, number: int, rows: int, dim: int) -> np.ndarray:
        vectors = np.load(self.shard_path(number), allow_pickle=False)
        if vectors.shape != (rows, dim):
            raise ValueError(
                f"{self.shard_path(number)} holds {vectors.shape}, expected ({rows}, {dim}); "
                "the checkpoint is damaged: run without --resume"
            )
        return np.asarray(vectors, dtype=np.float32)

    def clear(self) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)
            fsync_path(self.path.parent)


class ShardFeed:
    """Hands the shards of a build to the stage that adds them to the dense index, in order,
    as the embedding stage finishes them (it may run on another thread, or in Ray workers).

    The embedding stage calls `publish` per chunk, then `finish`; the consumer iterates the
    feed (waiting for the next shard). A failure of any stage is recorded once (`guard`),
    stops the others (`stopped`) and is raised where `check` is called.
    """

    def __init__(self, checkpoint: Checkpoint, state: BuildProgress, dim: int) -> None:
        self.checkpoint = checkpoint
        self.state = state
        self.dim = dim
        self._changed = threading.Condition()
        self._finished = state.embedded
        self._stopped = False
        self.error: BaseException | None = None
        self.encoded = 0
        """Products embedded by this run (not adopted from an interrupted one)."""

    @property
    def stopped(self) -> bool:
        return self._stopped

    def publish(self, vectors: Any, consumed: int) -> None:
        """Persist the next shard (catalog rows up to `consumed` are then all embedded)."""
        number = len(self.state.shards)
        self.checkpoint.write_shard(number, vectors)
        self.encoded += len(vectors)
        self.record(number, len(vectors), consumed)

    def record(self, number: int, rows: int, consumed: int) -> None:
        """The next shard in catalog order is on disk (written by this process or a worker)."""
        with self._changed:
            if number != len(self.state.shards):
                raise RuntimeError(f"shard {number} recorded out of order")
            self.state.shards.append(rows)
            self.state.rows_consumed = consumed
            self.checkpoint.save(self.state)
            self._changed.notify_all()

    def finish(self, consumed: int) -> None:
        """Every product of the catalog is in a shard."""
        with self._changed:
            self.state.rows_consumed = consumed
            self.state.embedded = True
            self.checkpoint.save(self.state)
            self._finished = True
            self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def finish_if_embedded(self) -> None:
        """After the embedding stage returned or failed: release whoever still waits."""
        with self._changed:
            if self.state.embedded:
                self._finished = True
            else:
                self._stopped = True
            self._changed.notify_all()

    def guard(self, stage: Callable[[], None]) -> None:
        """Run a stage; its failure is recorded (the first one wins) and stops the others."""
        try:
            stage()
        except BaseException as exc:
            with self._changed:
                if self.error is None:
                    self.error = exc
            self.stop()

    def check(self) -> None:
        """Raise the failure of another stage, if any."""
        if self.error is not None:
            raise self.error

    def wait_finished(self) -> bool:
        """Wait until every shard is on disk (True) or the build stopped (False)."""
        with self._changed:
            self._changed.wait_for(lambda: self._finished or self._stopped)
            return self._finished and not self._stopped

    def __iter__(self) -> Iterator[Any]:
        number = 0

        def ready(n: int) -> bool:
            return n < len(self.state.shards) or self._finished or self._stopped

        while True:
            with self._changed:
                self._changed.wait_for(lambda n=number: ready(n))  # type: ignore[misc]
                if self._stopped or number >= len(self.state.shards):
                    return
                rows = self.state.shards[number]
            yield self.checkpoint.read_shard(number, rows, self.dim)
            number += 1

    def stored(self) -> Iterator[Any]:
        """Every shard on disk, in order (once the feed is finished)."""
        for number, rows in enumerate(list(self.state.shards)):
            yield self.checkpoint.read_shard(number, rows, self.dim)
