"""Query-time synonyms for the lexical side, in Solr's `synonyms.txt` format.

One rule per line; `#` starts a comment; blank lines are ignored:

    couch, sofa, settee          two-way: searching any of them finds all of them
    tv, television
    flat screen => monitor       one-way: "flat screen" is searched as "monitor" only
    hoodie => hoodie, sweatshirt one-way, keeping the original word

Terms are reduced to the query's word tokens (lowercased, punctuation dropped), so
"T-Shirt" is the phrase "t shirt". Rules with the same left side add up. Backslash
escapes (Solr's `\\,` and `\\=>`) are not supported.

The file lives in the index directory (`INDEX_DIR/synonyms.txt`), beside the generations,
so a rebuild keeps it and a change needs no rebuild: the service re-reads it when it
changes (`SynonymsFile.refresh`, called by its reload watcher). Only BM25 sees synonyms;
the dense retriever already places "couch" near "sofa" on its own.

At query time each query word, or the longest phrase a rule starts at, becomes a slot
with its alternatives (`Synonyms.expand`). "Every word" matching then means every slot
through one of its alternatives: with `couch, sofa`, a product titled "sofa" fully matches
the query "leather couch" when it also says "leather".
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tinyseek.search.bm25 import words

log = logging.getLogger(__name__)

SYNONYMS_FILE = "synonyms.txt"
MAX_RULES = 100_000
MAX_PHRASE_WORDS = 8

Phrase = tuple[str, ...]
"""A sequence of query word tokens."""


@dataclass(frozen=True)
class Slot:
    """Query words (`phrase`) and the phrases a product may contain instead."""

    phrase: Phrase
    alternatives: tuple[Phrase, ...]

    @property
    def expanded(self) -> bool:
        return self.alternatives != (self.phrase,)


@dataclass(frozen=True)
class Synonyms:
    """Parsed rules: left-side phrase -> the phrases it is searched as."""

    rules: Mapping[Phrase, tuple[Phrase, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rules)

    @cached_property
    def longest(self) -> int:
        return max((len(phrase) for phrase in self.rules), default=0)

    @cached_property
    def words(self) -> frozenset[str]:
        """Every word the rules use (spelling correction leaves them alone)."""
        found: set[str] = set()
        for phrase, alternatives in self.rules.items():
            found.update(phrase)
            for alternative in alternatives:
                found.update(alternative)
        return frozenset(found)

    @classmethod
    def parse(cls, text: str, source: str = SYNONYMS_FILE) -> Synonyms:
        """Rules from synonyms.txt text; raises ValueError naming the line that is wrong."""
        rules: dict[Phrase, list[Phrase]] = {}

        def add(left: Phrase, right: Sequence[Phrase]) -> None:
            targets = rules.setdefault(left, [])
            targets.extend(p for p in right if p not in targets)

        for number, line in enumerate(text.splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            where = f"{source} line {number}"
            if line.count("=>") > 1:
                raise ValueError(f"{where}: more than one '=>'")
            left_text, arrow, right_text = line.partition("=>")
            left = _phrases(left_text, where)
            if arrow:
                right = _phrases(right_text, where)
                if not left or not right:
                    raise ValueError(f"{where}: '=>' needs terms on both sides")
                for phrase in left:
                    add(phrase, right)
            else:
                if len(left) < 2:
                    raise ValueError(f"{where}: a two-way rule needs at least two terms")
                for phrase in left:
                    add(phrase, left)
            if len(rules) > MAX_RULES:
                raise ValueError(f"{source}: more than {MAX_RULES} rules")
        return cls({phrase: tuple(targets) for phrase, targets in rules.items()})

    def expand(self, tokens: Sequence[str]) -> list[Slot]:
        """Slots of the query tokens, left to right; the longest rule at a position wins."""
        slots: list[Slot] = []
        i = 0
        while i < len(tokens):
            for length in range(min(self.longest, len(tokens) - i), 0, -1):
                phrase = tuple(tokens[i : i + length])
                alternatives = self.rules.get(phrase)
                if alternatives is not None:
                    slots.append(Slot(phrase, alternatives))
                    i += length
                    break
            else:
                slots.append(Slot((tokens[i],), ((tokens[i],),)))
                i += 1
        return slots


NO_SYNONYMS = Synonyms()


def _phrases(text: str, where: str) -> list[Phrase]:
    phrases = []
    for term in text.split(","):
        if not term.strip():
            continue
        phrase = tuple(words(term))
        if not phrase:
            raise ValueError(f"{where}: {term.strip()!r} has no word characters")
        if len(phrase) > MAX_PHRASE_WORDS:
            raise ValueError(f"{where}: {term.strip()!r} has more than {MAX_PHRASE_WORDS} words")
        phrases.append(phrase)
    return phrases


def read_synonyms(path: str | Path) -> Synonyms:
    """Rules from a synonyms file (UTF-8); raises ValueError naming the line that is wrong."""
    path = Path(path)
    return Synonyms.parse(path.read_text(encoding="utf-8"), source=str(path))


class SynonymsFile:
    """The synonyms file of an index directory, re-read when it changes.

    A missing file means no synonyms. A file that fails to parse leaves the rules in
    force unchanged (and says why in `error` and the log), so a bad edit never takes
    synonyms away from a running service.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rules: Synonyms = NO_SYNONYMS
        self.error: str | None = None
        self._signature: tuple[int, ...] | None = None
        self._lock = threading.Lock()
        self.refresh()

    def _stat(self) -> tuple[int, ...] | None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def refresh(self) -> bool:
        """Re-read the file if it changed since the last look; True when the rules changed."""
        with self._lock:
            try:
                signature = self._stat()
            except OSError as exc:  # unreadable now: keep the rules in force
                self.error = str(exc)
                return False
            if signature == self._signature:
                return False
            self._signature = signature
            if signature is None:
                changed = len(self.rules) > 0
                self.rules, self.error = NO_SYNONYMS, None
                if changed:
                    log.info("synonyms: %s removed; no synonyms", self.path)
                return changed
            try:
                rules = read_synonyms(self.path)
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                self.error = str(exc)
                log.warning("synonyms: %s (keeping the %d rules in force)", exc, len(self.rules))
                return False
            self.rules, self.error = rules, None
            log.info("synonyms: %d rules from %s", len(rules), self.path)
            return True
