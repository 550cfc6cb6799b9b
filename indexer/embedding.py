"""Document embedding in chunks.

A compact artifact (`PreTokenizing`) embeds each text in its own model call (see
`ArtifactEncoder`): its texts are tokenised once and handed over `batch_size` at a time.
Other encoders (sentence-transformers, fp32) pad each batch to its longest text, so a batch
costs about (texts x longest text) tokens: they get batches formed by that product, not by a
fixed count (many short titles go together, a few long descriptions go alone), texts sorted
by length to keep padding low and put back in order afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from tinyseek.models.encoder import Encoder

EMBEDDING_VERSION = 2
"""Changes whenever the same encoder gives a catalog different vectors (2: compact artifacts
embed each text alone); cached evaluation indexes are keyed on it."""
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
    """An encoder that embeds each text alone from its token ids, so nothing is padded and
    there is no batch to plan (see `ArtifactEncoder`)."""

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]: ...

    def encode_token_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray: ...


def embed_texts(encoder: Encoder, texts: Sequence[str], policy: BatchPolicy) -> np.ndarray:
    """float32 (len(texts), dim) vectors, in the order of `texts`."""
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    if not texts:
        return out
    if isinstance(encoder, PreTokenizing):
        ids = encoder.token_ids(texts)
        for start in range(0, len(ids), policy.batch_size):
            chunk = ids[start : start + policy.batch_size]
            vectors = encoder.encode_token_ids(chunk)
            if len(vectors) != len(chunk):
                raise RuntimeError(
                    f"encoder {encoder.name!r} returned {len(vectors)} vectors for {len(chunk)}"
                )
            out[start : start + len(chunk)] = vectors
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
