"""Highlights: the query's words marked in a product's title and in a window of its
description, with tantivy's snippet generator (the same analyzer as BM25, so "chairs"
marks "chair", and synonyms of the query's words are marked too)."""

from __future__ import annotations

import tantivy

from tinyseek.search.bm25 import ALL, TITLE, BM25Index, description_text
from tinyseek.search.types import Highlight, Highlights, Product

DESCRIPTION_CHARS = 180
TITLE_CHARS = 10_000
ELLIPSIS = "…"


class Highlighter:
    """Marks one query's terms in products (build one per query, use it for a page)."""

    def __init__(
        self,
        bm25: BM25Index,
        query: tantivy.Query | None,
        description_chars: int = DESCRIPTION_CHARS,
    ) -> None:
        self._description_chars = description_chars
        self._title: tantivy.SnippetGenerator | None = None
        self._description: tantivy.SnippetGenerator | None = None
        if query is not None:
            self._title = bm25.snippet_generator(query, TITLE, TITLE_CHARS)
            self._description = bm25.snippet_generator(query, ALL, description_chars)

    def highlight(self, product: Product) -> Highlights:
        description = description_text(product)
        return Highlights(
            title=self._title_highlight(product.title),
            description=self._description_highlight(description) if description else None,
        )

    def _title_highlight(self, title: str) -> Highlight:
        if self._title is None:
            return Highlight(title)
        snippet = self._title.snippet_from_doc(_document(TITLE, title))
        if not snippet.fragment():
            return Highlight(title)
        encoded = title.encode("utf-8")
        start = snippet.fragment_range().start
        spans = _char_spans(
            encoded, [(start + r.start, start + r.end) for r in snippet.highlighted()]
        )
        return Highlight(title, spans)

    def _description_highlight(self, text: str) -> Highlight:
        snippet = None
        if self._description is not None:
            snippet = self._description.snippet_from_doc(_document(ALL, text))
        if snippet is None or not snippet.fragment():
            return Highlight(_opening(text, self._description_chars))
        encoded = text.encode("utf-8")
        window = snippet.fragment_range()
        fragment = snippet.fragment()
        prefix = ELLIPSIS if window.start > 0 else ""
        suffix = ELLIPSIS if window.end < len(encoded) else ""
        shift = len(prefix)
        spans = _char_spans(
            fragment.encode("utf-8"), [(r.start, r.end) for r in snippet.highlighted()]
        )
        return Highlight(
            prefix + fragment + suffix, tuple((a + shift, b + shift) for a, b in spans)
        )


def _document(field: str, text: str) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text(field, text)
    return doc


def _char_spans(encoded: bytes, spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Byte offsets into UTF-8 text -> character offsets."""
    if len(encoded) == len(encoded.decode("utf-8", "ignore")):  # ASCII: the same offsets
        return tuple(spans)
    return tuple(
        (len(encoded[:a].decode("utf-8", "ignore")), len(encoded[:b].decode("utf-8", "ignore")))
        for a, b in spans
    )


def _opening(text: str, limit: int) -> str:
    """The start of a text, cut at a word boundary within `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:.") + ELLIPSIS
