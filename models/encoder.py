"""The `Encoder` interface every backend implements, and `load_encoder`, which finds one.

Vectors are float32, L2-normalised, shape (n, dim), so inner product is cosine. Loading only
finds and opens encoders; building one is a command (`tinyseek build-model`), never a side
effect of loading.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from tinyseek.extras import require
from tinyseek.models.artifact import MANIFEST, load_artifact_encoder
from tinyseek.models.torch_backends import TEACHER_ALIASES, SentenceTransformerEncoder
from tinyseek.settings import home_dir

COMPACT = "compact"
"""The default encoder of the indexer and the demo: the compact int8 artifact built once per
machine by `tinyseek build-model --default` into `default_artifact_dir()`."""
DEFAULT_ARTIFACT_NAME = "encoder-default"


@runtime_checkable
class Encoder(Protocol):
    """What `search` needs from a text encoder."""

    @property
    def name(self) -> str:
        """Stable identifier written into index manifests (e.g. teacher id or artifact id)."""
        ...

    @property
    def dim(self) -> int: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries: float32 (len(texts), dim), L2-normalised."""
        ...

    def encode_documents(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[np.ndarray]:
        """Embed documents lazily, one float32 (b, dim) normalised array per batch, in order."""
        ...


class DefaultEncoderMissingError(FileNotFoundError):
    """The default compact encoder has not been built on this machine."""


def default_artifact_dir() -> Path:
    """Where the default compact encoder lives: <home>/encoder-default (see
    `tinyseek.settings.home_dir`)."""
    return home_dir() / DEFAULT_ARTIFACT_NAME


def default_artifact() -> Path:
    """The default compact encoder's directory; raises DefaultEncoderMissingError, with the
    commands that build it, when it is not there."""
    path = default_artifact_dir()
    if not (path / MANIFEST).is_file():
        raise DefaultEncoderMissingError(
            f"the default compact encoder is not built on this machine (expected {path}); "
            "build it once with: pip install 'tinyseek[train]' && tinyseek build-model --default "
            "(about half a minute), or pass --encoder DIR with a ready artifact directory"
        )
    return path


def _is_sentence_transformer(spec: str | Path | None) -> bool:
    if spec is None or str(spec) in TEACHER_ALIASES:
        return True
    return str(spec) != COMPACT and not (Path(spec) / MANIFEST).is_file()


def check_encoder_spec(spec: str | Path | None) -> None:
    """Fail now, before any work, when `spec` cannot load here: the default artifact is
    missing, or a sentence-transformers model is asked for without the `train` extra."""
    if spec == COMPACT:
        default_artifact()
    elif _is_sentence_transformer(spec):
        require("train", "torch", "sentence_transformers")


def load_encoder(spec: str | Path | None = None, threads: int | None = None) -> Encoder:
    """Load an encoder from a spec.

    - "compact": the default compact int8 artifact (`tinyseek build-model --default`).
    - "teacher" (or None): all-MiniLM-L6-v2 fp32 from the offline package (`train` extra).
    - a directory with `manifest.json` of kind "tinyseek-encoder": a compact artifact.
    - any other local directory or hub id: a sentence-transformers model in fp32 (`train`).
    """
    if spec == COMPACT:
        return load_artifact_encoder(default_artifact(), threads=threads)
    if spec is not None and not _is_sentence_transformer(spec):
        return load_artifact_encoder(spec, threads=threads)
    return SentenceTransformerEncoder(spec, threads=threads)
