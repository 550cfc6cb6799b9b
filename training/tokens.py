"""WordPiece vocabulary pruning (loading a tokenizer is `tinyseek.models.artifact.load_tokenizer`).

Vocabulary pruning keeps the tokens the catalog (and query-like views of it) uses, every
single-character piece, and the most frequent words of the teacher's vocabulary (BERT ids
from 1996 up are roughly frequency-ordered). The pruned tokenizer is the remap table: a word
whose piece was dropped is split by WordPiece into smaller kept pieces (at worst characters)
instead of collapsing to [UNK].
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer

from tinyseek.iteration import batched

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
FIRST_WORD_ID = 1996  # bert-base-uncased: ids below are specials, [unusedN] and characters


def used_token_ids(tokenizer: Tokenizer, texts: Iterable[str], batch: int = 4096) -> set[int]:
    seen: set[int] = set()
    for chunk in batched(texts, batch):
        for enc in tokenizer.encode_batch(chunk):
            seen.update(enc.ids)
    return seen


def vocabulary_to_keep(tokenizer: Tokenizer, used: set[int], frequent_words: int) -> list[int]:
    """Sorted ids to keep: specials, characters, `used`, and the first `frequent_words` words."""
    vocab = tokenizer.get_vocab()
    keep = set(used)
    for token, idx in vocab.items():
        if (
            token in SPECIAL_TOKENS
            or len(token.removeprefix("##")) == 1
            or FIRST_WORD_ID <= idx < FIRST_WORD_ID + frequent_words
        ):
            keep.add(idx)
    return sorted(keep)


def pruned_tokenizer_json(tokenizer_json: Path, keep: list[int]) -> str:
    """tokenizer.json text whose WordPiece vocab holds only `keep`, renumbered 0..len-1.

    `keep` must be sorted and contain [PAD] = 0, so padding stays id 0.
    """
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    vocab: dict[str, int] = data["model"]["vocab"]
    by_id = {i: t for t, i in vocab.items()}
    if not keep or keep[0] != 0 or by_id[0] != "[PAD]":
        raise ValueError("vocabulary pruning must keep [PAD] as id 0")
    new_ids = {old: new for new, old in enumerate(keep)}
    data["model"]["vocab"] = {by_id[old]: new for old, new in new_ids.items()}
    remap = {by_id[old]: new for old, new in new_ids.items()}
    data["added_tokens"] = [
        {**tok, "id": remap[tok["content"]]}
        for tok in data.get("added_tokens", [])
        if tok["content"] in remap
    ]
    post = data.get("post_processor") or {}
    for name, special in (post.get("special_tokens") or {}).items():
        special["ids"] = [remap[t] for t in special["tokens"]]
        if name not in remap:
            raise ValueError(f"vocabulary pruning dropped special token {name}")
    data["padding"] = None
    data["truncation"] = None
    return json.dumps(data, ensure_ascii=False)
