"""Exit codes of the `tinyseek` command and how a failure maps onto one.

Every command returns 0 on success. Failures that are not a command's own verdict
(1 = published with rejected rows, eval's gate codes) map here:

    2  usage or configuration error: bad flags, a missing file, unknown format or field
    4  another writer holds the index's writer lock; nothing was changed
    5  the index is damaged: a generation failed verification (the message names the file)
    6  the disk is full (or over quota); nothing half-written is left behind
    7  refused: publishing would drop writes acknowledged through the API or the journal
    8  unexpected internal error (run with --debug or TINYSEEK_DEBUG=1 for the traceback)
    9  refused: the new generation scored worse than the served one on the index's reference
       labels (the message names the metric, configuration and drop; --force publishes it)
   10  applied, but the served generation's quality fell past the tolerance after in-place
       writes (the writes are kept; the alarm names the queries)

An exception class can carry its own code as an `exit_code` attribute.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Mapping

EXIT_OK = 0
EXIT_REJECTS = 1
EXIT_USAGE = 2
EXIT_NO_PRODUCTS = 3
EXIT_LOCKED = 4
EXIT_CORRUPT = 5
EXIT_DISK_FULL = 6
EXIT_WOULD_DROP_WRITES = 7
EXIT_INTERNAL = 8
EXIT_QUALITY_REFUSED = 9
EXIT_QUALITY_ALARM = 10

EXIT_MEANINGS = {
    EXIT_OK: "ok",
    EXIT_USAGE: "usage or configuration error",
    EXIT_LOCKED: "another writer held the index lock past --wait",
    EXIT_CORRUPT: "the index is damaged (the file is named)",
    EXIT_DISK_FULL: "disk full",
    EXIT_WOULD_DROP_WRITES: "refused: would drop acknowledged writes",
    EXIT_INTERNAL: "internal error (--debug prints the traceback)",
    EXIT_QUALITY_REFUSED: "refused: scored worse than the served generation on the reference "
    "labels (--force publishes it)",
    EXIT_QUALITY_ALARM: "applied, but quality fell past the tolerance on the reference labels "
    "(alarm)",
}


def exit_codes_help(codes: tuple[int, ...], own: Mapping[int, str] | None = None) -> str:
    """A command's help epilog: the exit codes it can return, with their meanings (`own`
    for the command's own verdicts, such as 1 and 3)."""
    meanings = {**EXIT_MEANINGS, **(own or {})}
    return "exit codes: " + "; ".join(f"{code} {meanings[code]}" for code in codes)


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL_MESSAGES = (
    "database or disk is full",  # sqlite3
    "No space left on device",  # FAISS and others wrap ENOSPC in a RuntimeError
    "Disk quota exceeded",
)


def is_disk_full(exc: BaseException) -> bool:
    """True for a full disk or an exhausted quota, however deep the OSError sits."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        if any(text in str(current) for text in DISK_FULL_MESSAGES):  # SQLite, FAISS
            return True
        current = current.__cause__ or current.__context__
    return False


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code of a failure (see the module doc)."""
    code = getattr(exc, "exit_code", None)
    if isinstance(code, int):
        return code
    if is_disk_full(exc):
        return EXIT_DISK_FULL
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return EXIT_CORRUPT  # a damaged store met after it was verified
    if isinstance(exc, (ValueError, FileNotFoundError, NotADirectoryError, ImportError)):
        return EXIT_USAGE
    return EXIT_INTERNAL


def describe(exc: BaseException) -> str:
    """One line naming the cause."""
    if is_disk_full(exc):
        return f"disk full: {exc}"
    text = " ".join(str(exc).split())
    if getattr(exc, "exit_code", None) == EXIT_CORRUPT:
        return f"the index is damaged: {text}"
    if getattr(exc, "exit_code", None) == EXIT_QUALITY_REFUSED:
        return text
    if isinstance(exc, (ValueError, FileNotFoundError, ImportError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
