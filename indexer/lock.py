"""One writer per index directory: an exclusive `flock` on INDEX_DIR/.writer.lock.

The kernel drops the lock when the holder exits, however it exits (kill -9
included), so a crashed job never leaves the index locked. The holder writes
its pid, command and start time into the file so a refused writer can say who
holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from types import TracebackType

LOCK_FILE = ".writer.lock"


class WriterLockedError(RuntimeError):
    """Another process (or another writer in this process) holds the index's writer lock."""


class WriterLock:
    """Context manager holding INDEX_DIR/.writer.lock exclusively; never waits."""

    def __init__(self, index_dir: str | Path) -> None:
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            raise WriterLockedError(f"{self.path} is already held by this writer")
        self.index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(fd)
            os.close(fd)
            raise WriterLockedError(
                f"another writer is working on {self.index_dir} ({holder}); "
                "try again when it has finished"
            ) from None
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "since": time.time(), "command": " ".join(sys.argv)[:300]}
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _describe_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
        return f"pid {info['pid']}, since {since}: {info['command']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
