"""`tinyseek shard INDEX_DIR --shards N --out DIR`: cut the served state's vectors into shards.

Each product goes to the part `search.shards.shard_of(its id, N)` names; each part is a FAISS
index of the generation's own kind over its products' vectors, in ordinal order (HNSW parts
built on one thread, so a cut is reproducible). Flat and HNSW vectors are float32 and copied
exactly; the quantised kinds are retrained per part on their decoded vectors. The set is
written into a temporary folder and renamed into place; it names the generation and revision
it was cut from, and an engine refuses shards of any other state (`search.shards`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from tinyseek.checksums import file_sha256
from tinyseek.indexer.build import add_deterministic, training_stride
from tinyseek.search.dense import DenseIndex, DenseParams
from tinyseek.search.engine import load_generation
from tinyseek.search.layout import current_generation
from tinyseek.search.shards import FORMAT_VERSION, SHARDS_FILE, ShardSet, part_files, shard_of


def cut_shards(index_dir: Path, out: Path, shards: int) -> ShardSet:
    """Write the shard set of INDEX_DIR's served state into OUT (replacing a previous set)."""
    if shards < 2:
        raise ValueError(f"--shards must be at least 2, got {shards}")
    if out.exists() and not (out / SHARDS_FILE).is_file() and any(out.iterdir()):
        raise ValueError(f"{out} exists and is not a shard set; name a new folder")
    gen = load_generation(current_generation(index_dir))
    dense = gen.dense
    assert isinstance(dense, DenseIndex)
    size = len(dense)
    owner = np.fromiter(
        (shard_of(str(product_id), shards) for product_id in gen.ordinal_ids[:size]),
        dtype=np.int64,
        count=size,
    )
    params = replace(dense.params, kind=dense.kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        parts = [
            _write_part(tmp, i, np.flatnonzero(owner == i), dense, params) for i in range(shards)
        ]
        record = {
            "format_version": FORMAT_VERSION,
            "generation": gen.name,
            "revision": gen.revision,
            "kind": dense.kind,
            "params": asdict(params),
            "size": size,
            "dim": dense.dim,
            "hash": "blake2b-8 of the product id, mod shards",
            "parts": parts,
        }
        (tmp / SHARDS_FILE).write_text(json.dumps(record, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        gen.store.close()
    return ShardSet.read(out)


def _write_part(
    folder: Path, i: int, ordinals: np.ndarray, dense: DenseIndex, params: DenseParams
) -> dict[str, object]:
    vectors = dense.vectors(ordinals.tolist())
    part = DenseIndex.create(dense.dim, len(ordinals), params)
    if part.needs_training:
        part.train(vectors[:: training_stride(len(vectors))])
    if part.is_hnsw:
        add_deterministic(part, vectors)
    else:
        part.add(vectors)
    index_file, ordinals_file = part_files(i)
    part.save(folder / index_file)
    np.save(folder / ordinals_file, ordinals.astype(np.int64), allow_pickle=False)
    names = (index_file, ordinals_file)
    return {"count": len(ordinals), "sha256": {n: file_sha256(folder / n) for n in names}}
