"""One writer per index directory: an exclusive file lock on INDEX_DIR/.writer.lock.

The lock is an OS lock (filelock), which the kernel drops when the holder exits, however
it exits (kill -9 included), so a crashed job never leaves the index locked. The holder
writes its pid, command and start time into a sidecar file (.writer.lock.holder) so a
refused writer can say who holds it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

LOCK_FILE = ".writer.lock"
HOLDER_FILE = ".writer.lock.holder"


class WriterLockedError(RuntimeError):
    """Another process (or another writer in this process) holds the index's writer lock."""

    exit_code = 4  # tinyseek.errors.EXIT_LOCKED


class WriterLock:
    """Context manager holding INDEX_DIR/.writer.lock exclusively.

    Never waits by default; with `timeout` (seconds) it waits that long for the holder to
    finish before giving up.
    """

    def __init__(self, index_dir: str | Path, timeout: float | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / LOCK_FILE
        self.timeout = timeout
        # thread_local=False: a writer may be opened and closed on different threads.
        self._lock = FileLock(self.path, thread_local=False)
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> None:
        if self._held:
            raise WriterLockedError(f"{self.path} is already held by this writer")
        self.index_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=self.timeout or 0)
        except Timeout:
            waited = f" after waiting {self.timeout:g} s" if self.timeout else ""
            raise WriterLockedError(
                f"another writer is working on {self.index_dir} ({self._describe_holder()})"
                f"{waited}; try again when it has finished"
            ) from None
        self._held = True
        holder = {"pid": os.getpid(), "since": time.time(), "command": " ".join(sys.argv)[:300]}
        tmp = self.index_dir / f"{HOLDER_FILE}.tmp-{os.getpid()}"
        try:
            tmp.write_text(json.dumps(holder), encoding="utf-8")
            os.replace(tmp, self.index_dir / HOLDER_FILE)
        except OSError:  # only a description for refused writers (a full disk: the work fails)
            tmp.unlink(missing_ok=True)

    def release(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()

    def _describe_holder(self) -> str:
        try:
            info = json.loads((self.index_dir / HOLDER_FILE).read_text(encoding="utf-8"))
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
            return f"pid {info['pid']}, since {since}: {info['command']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"

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
