"""Build a complete index generation from products and publish it atomically."""

from __future__ import annotations

import os
import platform
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from models.encoder import Encoder
from search.bm25 import BM25Index
from search.dense import DenseIndex, DenseParams
from search.generation import (
    BM25_DIR,
    DENSE_FILE,
    DOCS_FILE,
    ENCODER_DIR,
    FORMAT_VERSION,
    generation_name,
    next_generation_number,
    publish,
    write_manifest,
)
from search.store import DocStore
from search.types import FusionWeights, Product


@dataclass(frozen=True)
class BuildStats:
    generation: Path
    products: int
    seconds: float


def library_versions() -> dict[str, str]:
    names = ("tinyseek", "torch", "faiss-cpu", "tantivy", "numpy", "sentence-transformers")
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def encoder_source(encoder: Encoder) -> str:
    """How to load this encoder again: 'bundled' when its artifact is copied into the index."""
    return "bundled" if getattr(encoder, "artifact_dir", None) else encoder.name


def _chunks(products: Iterable[Product], size: int) -> Iterator[list[Product]]:
    chunk: list[Product] = []
    for product in products:
        chunk.append(product)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _finish_dense(flat: DenseIndex, params: DenseParams) -> DenseIndex:
    """Above the HNSW threshold, rebuild the streamed flat index as HNSW."""
    if len(flat) < params.hnsw_threshold:
        return flat
    hnsw = DenseIndex.create(flat.dim, len(flat), params)
    storage = flat._index
    hnsw.add(storage.reconstruct_n(0, len(flat)))
    return hnsw


def build_index(
    products: Iterable[Product],
    index_dir: str | Path,
    encoder: Encoder,
    batch_size: int = 256,
    dense_params: DenseParams | None = None,
    fusion: FusionWeights | None = None,
    progress: bool = False,
) -> BuildStats:
    """Write a new generation beside the served one, then publish it."""
    started = time.perf_counter()
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    params = dense_params or DenseParams()
    name = generation_name(next_generation_number(index_dir))
    tmp = index_dir / f".tmp-{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()

    store = DocStore(tmp / DOCS_FILE, writable=True)
    bm25 = BM25Index.create(tmp / BM25_DIR)
    writer = bm25.writer()
    flat = DenseIndex.create(encoder.dim, 0, DenseParams(hnsw_threshold=1 << 62))
    count = 0
    bar = _progress(progress)
    for chunk in _chunks(products, batch_size):
        ordinals = list(range(count, count + len(chunk)))
        store.append(ordinals, chunk)
        BM25Index.add(writer, ordinals, chunk)
        for vectors in encoder.encode_documents([p.dense_text() for p in chunk], batch_size):
            flat.add(vectors)
        count += len(chunk)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    if count == 0:
        shutil.rmtree(tmp)
        raise ValueError("the catalog has no valid products; nothing was indexed")
    writer.commit()
    writer.wait_merging_threads()
    store.commit()
    store.close()
    dense = _finish_dense(flat, params)
    dense.save(tmp / DENSE_FILE)
    artifact = getattr(encoder, "artifact_dir", None)
    if artifact:
        shutil.copytree(artifact, tmp / ENCODER_DIR)

    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "generation": name,
        "revision": 0,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "doc_count": count,
        "encoder": {"name": encoder.name, "source": encoder_source(encoder), "dim": encoder.dim},
        "dense": {"kind": dense.kind, "dtype": "float32", "params": params.__dict__},
        "bm25": {"boosts": bm25.boosts},
        "fusion": (fusion or FusionWeights()).to_dict(),
        "versions": library_versions(),
    }
    write_manifest(tmp, manifest)
    final = index_dir / name
    os.replace(tmp, final)
    publish(index_dir, final)
    return BuildStats(final, count, time.perf_counter() - started)


def _progress(enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(unit="products", desc="indexing", mininterval=1.0)


__all__ = ["BuildStats", "build_index"]
