"""Query spelling correction: the speller's rules, the store's vocabulary, the engine."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tinyseek.search import Engine, Product
from tinyseek.search.spelling import Speller, count_terms
from tinyseek.search.store import DocStore

VOCABULARY = {
    "toilet": 40,
    "glacier": 12,
    "bay": 30,
    "wire": 9,
    "mesh": 5,
    "wireless": 20,
    "sprinkler": 7,
    "sprinklers": 3,
    "thrower": 4,
    "snow": 6,
    "oncee": 1,  # a typo the catalog itself contains once: known, never suggested
    "once": 8,
    "quartz": 2,
    "sofa": 6,
    "drill": 5,
    "cordless": 4,
}


def test_known_short_and_numeric_words_are_kept() -> None:
    speller = Speller(VOCABULARY)
    for word in ("toilet", "oncee", "bay", "tol", "2x4s", "g135", "zzzzzz"):
        assert speller.correct_word(word) is None, word


def test_one_edit_then_split_then_two_edits_for_long_words() -> None:
    speller = Speller(VOCABULARY)
    assert speller.correct_word("toliet") == "toilet"  # transposition: one edit
    assert speller.correct_word("glaciar") == "glacier"
    assert speller.correct_word("sprinklr") == "sprinkler"  # the closest, then most frequent
    # "wiremesh" is two edits from "wireless", but splits into two catalog words first.
    assert speller.correct_word("wiremesh") == "wire mesh"
    assert speller.correct_word("sprnklerr") == "sprinkler"  # 9 letters: two edits allowed
    assert speller.correct_word("quartx") == "quartz"
    assert speller.correct_word("qurtzz") is None  # 6 letters: two edits not tried


def test_real_words_are_vocabulary_not_typos() -> None:
    """A word of the language is never rewritten into a catalog word one edit away: the
    catalog lacking it is what semantic search is for (issue: "couch" became "touch")."""
    speller = Speller({**VOCABULARY, "touch": 9, "speakers": 9, "stone": 9, "drying": 9, "press": 9,
                       "beside": 9, "sprinkler": 7})  # fmt: skip
    for word in ("couch", "sneakers", "stove", "frying", "dress", "bedside", "sprinkle", "quarts"):
        assert speller.correct_word(word) is None, word
    assert speller.correct("red dress by the couch") is None
    assert speller.correct("cordles dril") == "cordless drill"  # typos still are


def test_accents_fold_into_the_catalog_word() -> None:
    speller = Speller(VOCABULARY)
    assert speller.correct_word("sofá") == "sofa"
    assert speller.correct("Sofá") == "sofa"


def test_min_count_keeps_rare_words_out_of_suggestions() -> None:
    assert Speller(VOCABULARY).correct_word("oncer") == "once"
    assert Speller(VOCABULARY, min_count=3).correct_word("quartx") is None


def test_ties_at_one_distance_go_to_the_most_used_word() -> None:
    vocabulary = {"lamp": 3, "lame": 9}
    assert Speller(vocabulary).correct_word("lamx") == "lame"
    assert Speller({"lamp": 9, "lame": 3}).correct_word("lamx") == "lamp"


def test_a_reload_shares_the_candidate_index_but_ranks_by_fresh_counts() -> None:
    first = Speller({"lamp": 3, "lame": 9, "rug": 2})
    recount = Speller({"lamp": 9, "lame": 3, "rug": 5, "rugs": 1}, previous=first)
    assert recount._symspell is first._symspell  # same offered words: nothing rebuilt
    assert recount.correct_word("lamx") == "lamp"  # the new counts decide
    assert recount.correct_word("rugs") is None  # known now (once), so kept
    grown = Speller({"lamp": 9, "lame": 3, "rug": 2, "carpet": 2}, previous=recount)
    assert grown._symspell is not first._symspell  # a newly offered word: rebuilt
    assert grown.correct_word("carpte") == "carpet"


def test_correct_replaces_only_misspelt_words_and_keeps_the_rest() -> None:
    speller = Speller(VOCABULARY)
    assert speller.correct("Glaciar Bay TOLIET, 2-pack!") == "glacier Bay toilet, 2-pack!"
    assert speller.correct("snow thower") == "snow thrower"
    assert speller.correct("glacier bay toilet") is None


def product(pid: str, title: str, description: str = "") -> Product:
    return Product(id=pid, title=title, description=description)


def test_store_vocabulary_follows_appends_and_tombstones(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "docs.sqlite", writable=True, create=True)
    items = [
        product("a", "Glacier Bay Toilet", "two piece toilet"),
        product("b", "Glacier Bay Faucet"),
        product("c", "Wire Mesh Roll"),
    ]
    store.append([0, 1, 2], items)
    store.commit()
    assert store.vocabulary() == dict(count_terms(items))
    assert store.vocabulary() is not None and store.vocabulary()["toilet"] == 1  # type: ignore[index]
    store.tombstone(["a"])
    store.tombstone_ordinals([0])  # already dead: counted once only
    store.commit()
    expected = dict(count_terms(items[1:]))
    assert store.vocabulary() == expected and "toilet" not in expected
    store.close()


def test_store_from_before_the_vocabulary_gets_one_on_its_first_write(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    items = [product("a", "Glacier Bay Toilet"), product("b", "Wire Mesh Roll")]
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE docs (ord INTEGER PRIMARY KEY, id TEXT, data TEXT, alive INT)")
        conn.executemany(
            "INSERT INTO docs VALUES (?, ?, ?, ?)",
            [(i, p.id, json.dumps(p.to_dict()), int(i == 0)) for i, p in enumerate(items)],
        )
    assert DocStore(path).vocabulary() is None  # read-only: searched as typed
    writer = DocStore(path, writable=True)  # e.g. the first in-place update
    assert writer.vocabulary() == dict(count_terms(items[:1]))  # live products only
    writer.close()
    assert DocStore(path).vocabulary() == dict(count_terms(items[:1]))


def test_engine_searches_the_corrected_query(sample_engine: Engine) -> None:
    assert sample_engine.suggest("sofa") is None
    corrected = sample_engine.suggest("sfoa")
    assert corrected == "sofa"
    wanted = [h.doc_id for h in sample_engine.search("sofa", k=10)]
    assert [h.doc_id for h in sample_engine.search("sfoa", k=10)] == wanted
    assert [h.doc_id for h in sample_engine.search("sfoa", k=10, spell=False)] != wanted


def test_search_command_shows_the_correction_and_can_search_as_typed(
    sample_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tinyseek.cli import main

    assert main(["search", str(sample_index), "sfoa", "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert 'showing results for "sofa" (search instead for "sfoa": --no-spell)' in out
    assert '3 results for "sofa"' in out
    assert main(["search", str(sample_index), "sfoa", "-k", "3", "--no-spell"]) == 0
    out = capsys.readouterr().out
    assert "showing results for" not in out and 'results for "sfoa"' in out
