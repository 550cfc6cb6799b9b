"""The write-ahead journal: durable appends, torn tails, damage, voids, trimming, snapshots."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tinyseek.indexer import journal as journal_module
from tinyseek.indexer.journal import (
    Journal,
    JournalError,
    WouldDropWritesError,
    live_records,
    ops_from,
)
from tinyseek.search.types import Product


def product(pid: str, title: str = "Oak chair") -> Product:
    return Product(id=pid, title=title, price=10.0, attributes={"colour": "red"})


def test_records_round_trip_in_order(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    assert journal.last_seq() == 0 and list(journal.records()) == []
    first = journal.append(ops_from([product("a"), product("b")], ["c"]))
    second = journal.append([("d", None)])
    assert (first.seq, second.seq) == (1, 2) and journal.last_seq() == 2
    records = list(journal.records())
    assert [r.seq for r in records] == [1, 2]
    assert records[0].ops == (("a", product("a")), ("b", product("b")), ("c", None))
    assert [r.seq for r in journal.records(after=1)] == [2]
    assert Journal(tmp_path).last_seq() == 2  # another process sees the same


def test_torn_last_line_is_ignored_then_cut_off(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append([("a", product("a"))])
    (segment,) = journal.segments()
    with segment.open("ab") as fh:
        fh.write(b'{"seq": 2, "ts": 1.0, "ops": [["b", nu')  # a writer died mid-write
    fresh = Journal(tmp_path)
    assert [r.seq for r in fresh.records()] == [1] and fresh.last_seq() == 1
    assert fresh.append([("c", None)]).seq == 2  # the torn record was never acknowledged
    assert [r.ops[0][0] for r in fresh.records()] == ["a", "c"]


def test_a_complete_last_line_with_a_bad_checksum_is_damage_not_a_torn_write(
    tmp_path: Path,
) -> None:
    """Its append finished (the line end is there): it may have been acknowledged, so it
    is reported, never cut off (its seq would be reused for another write)."""
    journal = Journal(tmp_path)
    journal.append([("a", product("a"))])
    journal.append([("b", product("b"))])
    (segment,) = journal.segments()
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(lines[0] + lines[1].replace(b'"b"', b'"x"', 1))
    with pytest.raises(JournalError, match="line 2 is damaged"):
        list(Journal(tmp_path).records())
    with pytest.raises(JournalError, match="line 2 is damaged"):
        Journal(tmp_path).append([("c", None)])


def test_damage_before_the_tail_is_reported_with_file_and_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for pid in "abc":
        journal.append([(pid, product(pid))])
    (segment,) = journal.segments()
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(lines[0] + lines[1].replace(b"Oak", b"Elm", 1) + lines[2])
    with pytest.raises(JournalError, match=r"seg-000000000001\.jsonl: line 2 is damaged"):
        list(Journal(tmp_path).records())


def test_concurrent_appends_get_distinct_consecutive_seqs(tmp_path: Path) -> None:
    journals = [Journal(tmp_path) for _ in range(4)]  # as if four processes
    seqs: list[int] = []

    def write(journal: Journal, n: int) -> None:
        for i in range(n):
            seqs.append(journal.append([(f"p{i}", None)]).seq)

    threads = [threading.Thread(target=write, args=(j, 25)) for j in journals]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 101))
    assert [r.seq for r in Journal(tmp_path).records()] == list(range(1, 101))


def test_segments_rotate_and_trim_keeps_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "SEGMENT_BYTES", 600)
    journal = Journal(tmp_path)
    for i in range(12):
        journal.append([(f"p{i}", product(f"p{i}"))])
    segments = journal.segments()
    assert len(segments) > 3
    assert [r.seq for r in journal.records(after=5)] == list(range(6, 13))
    removed = journal.trim(upto=6)
    assert removed >= 1 and journal.trimmed()[0] <= 6
    assert [r.seq for r in journal.records(after=6)] == list(range(7, 13))
    assert journal.trim(upto=100) > 0
    assert journal.segments() == [segments[-1]]  # the newest stays: seqs continue
    assert journal.append([("z", None)]).seq == 13
    assert journal.last_seq() == 13


def test_void_cancels_a_record(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append([("a", product("a"))])
    failed = journal.append([("b", product("b"))])
    journal.void(failed.seq)
    journal.append([("c", None)])
    assert [r.seq for r in live_records(journal.records())] == [1, 4]


def test_position_at_a_snapshot_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "SEGMENT_BYTES", 400)
    journal = Journal(tmp_path)
    for i in range(3):
        journal.append([(f"early{i}", product(f"early{i}"))])
    time.sleep(0.02)
    snapshot = time.time()
    time.sleep(0.02)
    for i in range(3):
        journal.append([(f"late{i}", product(f"late{i}"))])
    assert journal.position_at(snapshot) == 3  # the later writes get replayed
    assert journal.position_at(time.time() + 1) == 6
    assert journal.position_at(0) == 0
    journal.trim(upto=3)  # records 1..3 went: a snapshot before them cannot be honoured
    assert journal.position_at(snapshot) == 3
    journal.trim(upto=5)
    with pytest.raises(WouldDropWritesError, match="no longer in the journal"):
        journal.position_at(snapshot)


def test_a_failed_append_leaves_no_partial_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path)
    journal.append([("a", product("a"))])
    (segment,) = journal.segments()
    size = segment.stat().st_size
    monkeypatch.setenv("TINYSEEK_FAILPOINT", "journal.torn_write:enospc")
    with pytest.raises(OSError, match="No space left"):
        journal.append([("b", product("b"))])
    assert segment.stat().st_size == size
    monkeypatch.delenv("TINYSEEK_FAILPOINT")
    assert journal.append([("c", None)]).seq == 2


def test_the_record_format_is_plain_json_lines(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append([("a", product("a")), ("b", None)])
    (segment,) = journal.segments()
    record = json.loads(segment.read_text().splitlines()[0])
    assert set(record) == {"seq", "ts", "ops", "crc"}
    assert record["ops"][0][0] == "a" and record["ops"][1] == ["b", None]
