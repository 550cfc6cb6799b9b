"""Document embedding in batches bounded by a token budget.

A batch costs about (texts x longest text) tokens once padded, so batches are
formed by that product, not by a fixed count: many short titles go together,
a few long descriptions go alone. Texts are sorted by length inside a chunk to
keep padding low and put back in order afterwards. An encoder that can tokenise ahead
(`PreTokenizing`: the compact ONNX artifacts) is planned on its real token counts and
each text is tokenised once; others on counts estimated from words and characters.

Measured on Home Depot titles (teacher int8 ONNX, 2 threads): batches planned on
estimated lengths ran at 396 products/s, against 870/s for the same encoder on batches
sorted by real length (the estimate is off by 2x on model numbers and units, so each
estimated batch padded to a much longer text); batches of 64 ran faster than of 128 or
256 (870, 752, 742/s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from tinyseek.models.encoder import Encoder

DEFAULT_BATCH_SIZE = 64
DEFAULT_TOKEN_BUDGET = 16_384
DEFAULT_MAX_TOKENS = 256
"""Beyond this many tokens the encoders truncate, so a text never costs more."""


def approx_tokens(text: str) -> int:
    """About how many word pieces a text becomes, plus the two special tokens."""
    words = len(text.split())
    return 2 + max(words * 4 // 3, len(text) // 4)


@dataclass(frozen=True)
class BatchPolicy:
    batch_size: int = DEFAULT_BATCH_SIZE
    """Most texts in one encoder call."""
    token_budget: int = DEFAULT_TOKEN_BUDGET
    """Most padded tokens (texts x longest) in one encoder call."""
    max_tokens: int = DEFAULT_MAX_TOKENS

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if self.token_budget < 1:
            raise ValueError(f"token budget must be >= 1, got {self.token_budget}")


def plan_batches(lengths: Sequence[int], policy: BatchPolicy) -> list[list[int]]:
    """Positions grouped into batches, shortest texts first, each within the policy."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        length = min(max(lengths[i], 1), policy.max_tokens)
        widest = max(longest, length)
        if current and (
            len(current) >= policy.batch_size or (len(current) + 1) * widest > policy.token_budget
        ):
            batches.append(current)
            current, widest = [], length
        current.append(i)
        longest = widest
    if current:
        batches.append(current)
    return batches


@runtime_checkable
class PreTokenizing(Protocol):
    """An encoder that tokenises ahead of encoding (see `ArtifactEncoder`)."""

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]: ...

    def encode_token_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray: ...


def embed_texts(encoder: Encoder, texts: Sequence[str], policy: BatchPolicy) -> np.ndarray:
    """float32 (len(texts), dim) vectors, in the order of `texts`."""
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    if not texts:
        return out
    if isinstance(encoder, PreTokenizing):
        ids = encoder.token_ids(texts)
        for batch in plan_batches([len(i) for i in ids], policy):
            vectors = encoder.encode_token_ids([ids[i] for i in batch])
            if len(vectors) != len(batch):
                raise RuntimeError(
                    f"encoder {encoder.name!r} returned {len(vectors)} vectors for {len(batch)}"
                )
            out[batch] = vectors
        return out
    lengths = [approx_tokens(t) for t in texts]
    for batch in plan_batches(lengths, policy):
        done = 0
        for vectors in encoder.encode_documents([texts[i] for i in batch], len(batch)):
            out[batch[done : done + len(vectors)]] = vectors
            done += len(vectors)
        if done != len(batch):
            raise RuntimeError(f"encoder {encoder.name!r} returned {done} vectors for {len(batch)}")
    return out
