"""Built indexes cached across evaluation runs.

An index for (corpus, encoder) lives in `<cache>/<dataset>-<encoder slug>-<key hash>`,
where the key hashes the corpus checksum, the encoder name (and artifact manifest,
when the encoder is an artifact directory) and the index format version. A
directory whose key file is missing (an interrupted build) is rebuilt. A lock file
keeps two processes from building the same index at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

from tinyseek.checksums import file_sha256
from tinyseek.models.encoder import Encoder
from tinyseek.settings import home_dir

log = logging.getLogger(__name__)

KEY_FILE = "eval-key.json"


def default_cache_root() -> Path:
    """$TINYSEEK_EVAL_CACHE, else <home>/eval (see `tinyseek.settings.home_dir`)."""
    env = os.environ.get("TINYSEEK_EVAL_CACHE")
    return Path(env) if env else home_dir() / "eval"


def encoder_fingerprint(encoder: Encoder, spec: str) -> str:
    """Encoder name, plus the artifact manifest's hash when the spec is an artifact dir."""
    manifest = Path(spec) / "manifest.json"
    if manifest.is_file():
        return f"{encoder.name}:{file_sha256(manifest)[:16]}"
    return encoder.name


def cache_key(corpus_checksum: str, encoder_fp: str) -> dict[str, str]:
    """What a cached index depends on, so a change to any of it (dense defaults included)
    builds a fresh one."""
    import dataclasses

    from tinyseek.indexer.embedding import EMBEDDING_VERSION
    from tinyseek.search.dense import DenseParams
    from tinyseek.search.layout import FORMAT_VERSION

    return {
        "corpus_sha256": corpus_checksum,
        "encoder": encoder_fp,
        "format_version": str(FORMAT_VERSION),
        "store": "docs+terms",  # the vocabulary table spelling correction reads
        "embedding": str(EMBEDDING_VERSION),
        "dense_params": json.dumps(dataclasses.asdict(DenseParams()), sort_keys=True),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.rsplit("/", 1)[-1])[:40]


def index_dir_for(cache_root: Path, dataset: str, key: dict[str, str]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return cache_root / f"{_slug(dataset)}-{_slug(key['encoder'].split(':')[0])}-{digest}"


def ensure_index(
    corpus_path: Path,
    dataset: str,
    encoder: Encoder,
    encoder_spec: str,
    cache_root: Path | None = None,
    progress: bool = True,
) -> Path:
    """The cached index directory for this corpus and encoder, built first if needed."""
    from tinyseek.indexer.build import build_index
    from tinyseek.indexer.readers import Reject, read_catalog
    from tinyseek.search.types import Product

    cache_root = cache_root or default_cache_root()
    cache_root.mkdir(parents=True, exist_ok=True)
    key = cache_key(file_sha256(corpus_path), encoder_fingerprint(encoder, encoder_spec))
    target = index_dir_for(cache_root, dataset, key)
    with FileLock(cache_root / f".{target.name}.lock"):
        key_file = target / KEY_FILE
        if key_file.is_file() and json.loads(key_file.read_text(encoding="utf-8")) == key:
            return target
        if target.exists():
            shutil.rmtree(target)
        rejects = 0

        def products() -> Iterator[Product]:
            nonlocal rejects
            for item in read_catalog(corpus_path):
                if isinstance(item, Reject):
                    rejects += 1
                else:
                    yield item

        log.info("building index %s (%s)", target, encoder.name)
        stats = build_index(products(), target, encoder, progress=progress)
        log.info(
            "indexed %d products (%d rejected) in %.0f s", stats.products, rejects, stats.seconds
        )
        tmp = key_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(key, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, key_file)
    return target
