"""The write-ahead journal: every acknowledged write, durable before it is acknowledged.

    INDEX_DIR/journal/
      seg-000000000001.jsonl   records 1.. (a new segment starts past SEGMENT_BYTES)
      seg-000000004711.jsonl
      trimmed.json             the last record removed by `trim` (its seq and time)
      .lock                    held while appending or trimming

A record is one JSON line: a sequence number (one more than the record before it), the
time it was appended, the operations of one write (upserts and deletes, in order; a
write is applied entirely or not at all) and a CRC-32 of the rest. `append` returns
after the line is fsynced: a write may be acknowledged then, and survives any crash.
A line cut short by a crash (no line end) at the end of the newest segment was never
acknowledged; readers stop before it and the next append removes it. A complete line
with a bad checksum, anywhere, is damage, reported with its file and line.

Every generation's store records the last record applied to it (`StoreMeta.journal_seq`);
`indexer.writer.apply_journal` applies the records after that one, so a record is
applied to the served generation, replayed onto a rebuilt, compacted or rolled-back one
before it is published, and trimmed once every generation on disk holds it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from tinyseek.failpoints import failpoint
from tinyseek.indexer.generations import fsync_path, write_atomic
from tinyseek.search.layout import CorruptGenerationError
from tinyseek.search.types import Product

JOURNAL_DIR = "journal"
TRIMMED_FILE = "trimmed.json"
LOCK_FILE = ".lock"
SEGMENT_BYTES = 4 << 20
SEGMENT_PATTERN = re.compile(r"^seg-(\d{12})\.jsonl$")

Op = tuple[str, "Product | None"]
"""One operation: (product id, the product to upsert, or None to delete the id)."""


class JournalError(CorruptGenerationError):
    """A journal record in the middle of a segment is damaged (file and line named)."""


class WouldDropWritesError(RuntimeError):
    """Publishing would drop acknowledged writes the journal no longer holds."""

    exit_code = 7  # tinyseek.errors.EXIT_WOULD_DROP_WRITES


class JournalBusyError(RuntimeError):
    """Another process held the journal's append lock for longer than the timeout."""


@dataclass(frozen=True)
class JournalRecord:
    seq: int
    ts: float
    """Wall-clock time of the append (seconds since the epoch)."""
    ops: tuple[Op, ...]
    voids: tuple[int, ...] = ()
    """Earlier records cancelled by this one: their writer failed before applying them
    and said so (see `Journal.void`)."""


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def encode_record(record: JournalRecord) -> bytes:
    body: dict[str, Any] = {
        "seq": record.seq,
        "ts": record.ts,
        "ops": [[pid, None if p is None else p.to_dict()] for pid, p in record.ops],
    }
    if record.voids:
        body["voids"] = list(record.voids)
    body["crc"] = format(zlib.crc32(_canonical(body)), "08x")
    return _canonical(body) + b"\n"


def decode_record(line: bytes) -> JournalRecord | None:
    """The record on a complete line, or None when it is damaged (bad JSON or checksum)."""
    try:
        body = json.loads(line)
        crc = body.pop("crc")
        if format(zlib.crc32(_canonical(body)), "08x") != crc:
            return None
        ops = tuple(
            (str(pid), None if data is None else Product.from_dict(data))
            for pid, data in body["ops"]
        )
        voids = tuple(int(seq) for seq in body.get("voids", ()))
        return JournalRecord(int(body["seq"]), float(body["ts"]), ops, voids)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


class Journal:
    """An index directory's journal. Appending is safe from several threads and processes."""

    def __init__(self, index_dir: str | Path, lock_timeout: float = 30.0) -> None:
        self.dir = Path(index_dir) / JOURNAL_DIR
        self.lock_timeout = lock_timeout
        self._thread_lock = threading.Lock()
        # (segment, inode, size, mtime) -> last seq: appends in this process skip the rescan
        self._tail_cache: tuple[Path, int, int, int, int] | None = None

    # ------------------------------------------------------------------------- writing
    def append(self, ops: Sequence[Op], voids: Sequence[int] = ()) -> JournalRecord:
        """Append one write and fsync it; the write is durable when this returns."""
        if not ops and not voids:
            raise ValueError("a journal record needs at least one operation")
        with self._locked():
            segment, last = self._tail()
            record = JournalRecord(last + 1, time.time(), tuple(ops), tuple(voids))
            line = encode_record(record)
            if segment is None or segment.stat().st_size + len(line) > SEGMENT_BYTES:
                segment = self._new_segment(record.seq)
            fd = os.open(segment, os.O_WRONLY | os.O_APPEND)
            try:
                size = os.fstat(fd).st_size
                try:
                    failpoint("journal.before_write")
                    _write_all(fd, line[: len(line) // 2])
                    failpoint("journal.torn_write")
                    _write_all(fd, line[len(line) // 2 :])
                    failpoint("journal.before_fsync")
                    os.fsync(fd)
                except BaseException:
                    with contextlib.suppress(OSError):  # leave no partial record behind
                        os.ftruncate(fd, size)
                    raise
                info = os.fstat(fd)
            finally:
                os.close(fd)
            self._tail_cache = (segment, info.st_ino, info.st_size, info.st_mtime_ns, record.seq)
            failpoint("journal.appended")
            return record

    def void(self, seq: int) -> None:
        """Cancel record `seq`, which its writer failed to apply (an exception, not a crash)
        and did not acknowledge. Only under the writer lock, before anyone applied it."""
        self.append((), voids=(seq,))

    def _new_segment(self, first_seq: int) -> Path:
        path = self.dir / f"seg-{first_seq:012d}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        fsync_path(self.dir)
        return path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with self._thread_lock:
            lock = FileLock(self.dir / LOCK_FILE, thread_local=False)
            try:
                lock.acquire(timeout=self.lock_timeout)
            except Timeout:
                raise JournalBusyError(
                    f"{self.dir}: the journal stayed locked for {self.lock_timeout:g} s"
                ) from None
            try:
                yield
            finally:
                lock.release()

    def _tail(self) -> tuple[Path | None, int]:
        """The newest segment and the last seq in the journal (under the lock): a damaged
        last line, never acknowledged, is cut off here."""
        segments = self.segments()
        if not segments:
            return None, self.trimmed()[0]
        newest = segments[-1]
        info = newest.stat()
        cached = self._tail_cache
        if cached is not None and cached[:4] == _identity(newest, info):
            return newest, cached[4]
        last, good_bytes = _first_seq(newest) - 1, 0
        for record, end in _scan(newest, tolerate_tail=True):
            last, good_bytes = record.seq, end
        if good_bytes < info.st_size:
            with open(newest, "r+b") as fh:
                fh.truncate(good_bytes)
                fh.flush()
                os.fsync(fh.fileno())
        return newest, last

    def trim(self, upto: int) -> int:
        """Remove the segments (but the newest) whose records are all <= `upto`; returns
        how many records went. Records are trimmed once every generation holds them."""
        removed = 0
        with self._locked():
            segments = self.segments()
            for segment, following in itertools.pairwise(segments):
                last = _first_seq(following) - 1
                if last > upto:
                    break
                records = list(r for r, _ in _scan(segment, tolerate_tail=True))
                if records:
                    self._write_trimmed(records[-1])
                segment.unlink()
                removed += len(records)
            if removed:
                fsync_path(self.dir)
        return removed

    def _write_trimmed(self, record: JournalRecord) -> None:
        text = json.dumps({"seq": record.seq, "ts": record.ts})
        write_atomic(self.dir / TRIMMED_FILE, lambda tmp: tmp.write_text(text, "utf-8"))

    # ------------------------------------------------------------------------- reading
    def segments(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir() if SEGMENT_PATTERN.match(p.name))

    def trimmed(self) -> tuple[int, float]:
        """(seq, time) of the last record trimmed away; (0, 0.0) when none was."""
        try:
            data = json.loads((self.dir / TRIMMED_FILE).read_text(encoding="utf-8"))
            return int(data["seq"]), float(data["ts"])
        except FileNotFoundError:
            return 0, 0.0
        except (ValueError, KeyError, TypeError) as exc:
            raise JournalError(self.dir / TRIMMED_FILE, f"unreadable: {exc}") from None

    def last_seq(self) -> int:
        """The newest durable record's seq (0 for an empty journal). No lock taken."""
        segments = self.segments()
        if not segments:
            return self.trimmed()[0]
        newest = segments[-1]
        info = newest.stat()
        cached = self._tail_cache
        if cached is not None and cached[:4] == _identity(newest, info):
            return cached[4]
        last = _first_seq(newest) - 1
        for record, _ in _scan(newest, tolerate_tail=True):
            last = record.seq
        return last

    def records(self, after: int = 0) -> Iterator[JournalRecord]:
        """Durable records with seq > `after`, in order (raises JournalError on damage)."""
        segments = self.segments()
        for i, segment in enumerate(segments):
            if i + 1 < len(segments) and _first_seq(segments[i + 1]) <= after + 1:
                continue
            newest = i == len(segments) - 1
            expected = _first_seq(segment)
            for record, _ in _scan(segment, tolerate_tail=newest):
                if record.seq != expected:
                    raise JournalError(
                        segment, f"record {record.seq} follows {expected - 1}; records are missing"
                    )
                expected += 1
                if record.seq > after:
                    yield record

    def position_at(self, ts: float) -> int:
        """The last record appended before time `ts`.

        A catalog exported at `ts` is taken to hold the writes up to that record; the
        ones after it are replayed onto a generation built from it. Raises
        WouldDropWritesError when some of those were already trimmed away.
        """
        trimmed_seq, trimmed_ts = self.trimmed()
        if trimmed_seq and trimmed_ts >= ts:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(trimmed_ts))
            raise WouldDropWritesError(
                f"writes acknowledged up to {when} (journal record #{trimmed_seq}), after this "
                "snapshot was taken, are no longer in the journal (they are in the generations "
                "built since); building from the snapshot would drop them"
            )
        position = trimmed_seq
        for record in self.records(after=trimmed_seq):
            if record.ts >= ts:
                break
            position = record.seq
        return position


def _write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked (a disk filling up): write the rest, which raises
    the error if there is no room for it."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _identity(path: Path, info: os.stat_result) -> tuple[Path, int, int, int]:
    return (path, info.st_ino, info.st_size, info.st_mtime_ns)


def _first_seq(segment: Path) -> int:
    match = SEGMENT_PATTERN.match(segment.name)
    if match is None:
        raise ValueError(f"not a journal segment: {segment}")
    return int(match.group(1))


def _scan(segment: Path, tolerate_tail: bool) -> Iterator[tuple[JournalRecord, int]]:
    """(record, byte offset after its line) for each complete, sound line. A last line cut
    short (no line end: its append was interrupted) ends the scan when `tolerate_tail`;
    any other damaged line, the last one included, raises JournalError."""
    with segment.open("rb") as fh:
        data = fh.read()
    offset = 0
    number = 0
    while offset < len(data):
        number += 1
        end = data.find(b"\n", offset)
        if end == -1:
            if tolerate_tail:
                return
            raise JournalError(segment, f"line {number} is cut short")
        record = decode_record(data[offset:end])
        if record is None:
            raise JournalError(segment, f"line {number} is damaged (bad checksum or JSON)")
        offset = end + 1
        yield record, offset


def live_records(records: Iterable[JournalRecord]) -> list[JournalRecord]:
    """The records that carry writes: voided records and the void markers dropped."""
    records = list(records)
    voided = {seq for record in records for seq in record.voids}
    return [r for r in records if r.ops and r.seq not in voided]


def ops_from(upserts: Iterable[Product], deletes: Iterable[str]) -> list[Op]:
    """Operations for upserts followed by deletes."""
    return [(p.id, p) for p in upserts] + [(pid, None) for pid in deletes]


__all__ = [
    "Journal",
    "JournalError",
    "JournalRecord",
    "Op",
    "WouldDropWritesError",
    "ops_from",
]
