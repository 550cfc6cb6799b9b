"""Compact encoder artifacts: a directory with manifest.json, model files and tokenizer.json.

Layout (format_version 1)::

    manifest.json    kind, format_version, name, teacher, pruning, quantization, fidelity, ...
    model.pt         TorchScript, int8 Linear + int8 embeddings, pooling + L2 norm in-graph
    model.onnx       the same student for ONNX Runtime, int8 MatMuls
    tokenizer.json   WordPiece tokenizer (pruned vocabulary = the in-graph embedding rows)

Loading needs only `tokenizers` plus onnxruntime (ONNX, the default) or torch (TorchScript,
the `train` extra); it never imports transformers or sentence-transformers. Every file is
checked against the sha256 recorded in the manifest before use. Artifacts are built by
`tinyseek.training.build`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyseek.checksums import file_sha256
from tinyseek.iteration import batched

if TYPE_CHECKING:
    from tokenizers import Tokenizer

KIND = "tinyseek-encoder"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TOKENIZER_FILE = "tokenizer.json"


class Backend(str, Enum):
    TORCHSCRIPT = "torchscript"
    ONNX = "onnx"


BACKEND_FILES = {Backend.TORCHSCRIPT: "model.pt", Backend.ONNX: "model.onnx"}


def artifact_name(files: dict[str, str]) -> str:
    """Stable id from the files' checksums: tinyseek-encoder-<12 hex>."""
    digest = hashlib.sha256("".join(f"{k}:{v};" for k, v in sorted(files.items())).encode())
    return f"{KIND}-{digest.hexdigest()[:12]}"


def read_manifest(path: Path) -> dict[str, Any]:
    """Parse and validate manifest.json; raises FileNotFoundError / ValueError with details."""
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise FileNotFoundError(f"encoder artifact directory not found: {path}")
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{path} is not an encoder artifact: expected {MANIFEST} "
            f"(found: {', '.join(sorted(p.name for p in path.iterdir())) or 'nothing'})"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{manifest_path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise ValueError(
            f"{manifest_path}: expected a JSON object, found {type(manifest).__name__}"
        )
    if manifest.get("kind") != KIND:
        raise ValueError(f"{manifest_path}: expected kind {KIND!r}, found {manifest.get('kind')!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{manifest_path}: expected format_version {FORMAT_VERSION}, "
            f"found {manifest.get('format_version')!r} (rebuild with `tinyseek build-model`)"
        )
    for key in ("name", "dim", "max_seq_len", "files", "default_backend"):
        if key not in manifest:
            raise ValueError(f"{manifest_path}: missing required key {key!r}")
    return manifest


def load_tokenizer(path: Path, max_seq_len: int) -> Tokenizer:
    """A tokenizer.json with padding off (batches are padded per call) and truncation at
    max_seq_len."""
    from tokenizers import Tokenizer

    if not path.is_file():
        raise FileNotFoundError(f"expected a tokenizer file at {path}")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_seq_len)
    return tokenizer


def verify_file(root: Path, manifest: dict[str, Any], name: str) -> Path:
    """The path of `name` after checking it exists and matches the manifest's sha256."""
    expected = manifest["files"].get(name)
    if expected is None:
        raise ValueError(f"{root / MANIFEST}: no checksum recorded for {name}")
    path = root / name
    if not path.is_file():
        raise FileNotFoundError(f"encoder artifact {root}: missing file {name}")
    found = file_sha256(path)
    if found != expected:
        raise ValueError(
            f"encoder artifact {root}: checksum mismatch for {name}: expected sha256 "
            f"{expected[:16]}..., found {found[:16]}... (file corrupt or truncated; rebuild it)"
        )
    return path


class ArtifactEncoder:
    """An `Encoder` over a compact artifact, on TorchScript or ONNX Runtime.

    Every text is its own model call, so a vector is a function of its text alone. The int8
    graphs quantize activations dynamically, one scale per call: texts embedded together
    move each other's vectors (cosine 0.982 at worst to the same text alone on the sample
    catalog), so a product's vector would depend on which products shared its batch, and
    the sample's dense nDCG@10 fell from 0.722 to 0.709 with length-sorted batches of 64.
    One text per call also pads nothing. Throughput comes from running `threads` texts at
    once, one ONNX intra-op thread each (2 cores): 605 Home Depot titles/s against 576/s
    for length-sorted batches of 64, and 61 NFCorpus abstracts/s against 23/s.
    """

    def __init__(self, path: Path, threads: int | None = None, backend: str | None = None) -> None:
        self.path = path
        self.manifest = read_manifest(path)
        try:
            self.backend = Backend(backend or self.manifest["default_backend"])
        except ValueError as exc:
            valid = ", ".join(b.value for b in Backend)
            raise ValueError(
                f"unknown encoder backend {backend!r}: expected one of {valid}"
            ) from exc
        self._name = str(self.manifest["name"])
        self._dim = int(self.manifest["dim"])
        self._tokenizer = load_tokenizer(
            verify_file(path, self.manifest, TOKENIZER_FILE), int(self.manifest["max_seq_len"])
        )
        model_path = verify_file(path, self.manifest, BACKEND_FILES[self.backend])
        workers = threads if threads is not None else (os.cpu_count() or 1)
        if self.backend is Backend.TORCHSCRIPT:  # torch parallelises inside each call
            self._run = _torchscript_runner(model_path, threads)
            workers = 1
        else:
            self._run = _onnx_runner(model_path)
        self._pool = ThreadPoolExecutor(workers, "tinyseek-encode") if workers > 1 else None

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def artifact_dir(self) -> Path:
        """The artifact directory; the indexer copies it into each generation it builds."""
        return self.path

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1:  # the hot path
            return self._run(self._tokenizer.encode(texts[0]).ids)
        return self.encode_token_ids(self.token_ids(texts))

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text (truncated at max_seq_len), for `encode_token_ids`:
        the indexer tokenises a catalog once with this."""
        if not texts:
            return []
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def encode_token_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Embed pre-tokenised texts, one model call each: (len(ids), dim)."""
        if not ids:
            return np.zeros((0, self._dim), dtype=np.float32)
        if self._pool is None or len(ids) == 1:
            return np.vstack([self._run(i) for i in ids])
        return np.vstack(list(self._pool.map(self._run, ids)))

    def encode_documents(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[np.ndarray]:
        for window in batched(texts, batch_size):
            yield self.encode_token_ids(self.token_ids(window))


Runner = Callable[[Sequence[int]], np.ndarray]
"""One text's token ids -> its vector, shape (1, dim)."""


def _torchscript_runner(model_path: Path, threads: int | None) -> Runner:
    from tinyseek.models.torch_backends import torchscript_model

    model = torchscript_model(model_path, threads)

    def run(ids: Sequence[int]) -> np.ndarray:
        return model(np.array([ids], dtype=np.int64))

    return run


def _onnx_runner(model_path: Path) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One thread per call: callers run several texts at once (ArtifactEncoder), and one
    # short text does not split well across cores. The graph is a single chain.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types (InvalidProtobuf, Fail, ...)
        raise ValueError(f"{model_path}: not a loadable ONNX model ({exc})") from exc
    input_name = session.get_inputs()[0].name

    def run(ids: Sequence[int]) -> np.ndarray:
        out: np.ndarray = session.run(None, {input_name: np.array([ids], dtype=np.int64)})[0]
        return out

    return run


def load_artifact_encoder(
    path: str | Path, threads: int | None = None, backend: str | None = None
) -> ArtifactEncoder:
    """Open a compact encoder artifact directory (see module docstring)."""
    return ArtifactEncoder(Path(path), threads=threads, backend=backend)
