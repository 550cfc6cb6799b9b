"""Generation administration under the writer lock: rollback, garbage collection, listing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyseek.indexer.lock import WriterLock
from tinyseek.search.generation import (
    GENERATION_PATTERN,
    collect_garbage,
    current_generation,
    list_generations,
    previous_generation,
    publish,
    read_manifest,
    served_generation_name,
)


@dataclass(frozen=True)
class GenerationInfo:
    name: str
    served: bool
    created_at: str
    revision: int
    products: int
    tombstones: int
    encoder: str


def rollback(index_dir: str | Path, to: str | None = None) -> tuple[str, str]:
    """Serve the previous generation (or the named one); returns (from, to) names.

    Updates committed in place to the generation rolled away from stay in it;
    rolling forward again is `rollback --to` that generation.
    """
    index_dir = Path(index_dir)
    with WriterLock(index_dir):
        served = current_generation(index_dir)
        if to is None:
            target = previous_generation(index_dir)
        else:
            if not GENERATION_PATTERN.match(to):
                raise ValueError(f"--to expects a generation name like gen-000001, got {to!r}")
            target = index_dir / to
            read_manifest(target)
        publish(index_dir, target)
    return served.name, target.name


def garbage_collect(index_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` generations (never the served one)."""
    index_dir = Path(index_dir)
    with WriterLock(index_dir):
        return collect_garbage(index_dir, keep)


def describe_generations(index_dir: str | Path) -> list[GenerationInfo]:
    index_dir = Path(index_dir)
    served = served_generation_name(index_dir)
    infos = []
    for gen in list_generations(index_dir):
        manifest = read_manifest(gen)
        infos.append(
            GenerationInfo(
                name=gen.name,
                served=gen.name == served,
                created_at=str(manifest.get("created_at", "")),
                revision=int(manifest.get("revision", 0)),
                products=int(manifest.get("doc_count", 0)),
                tombstones=int(manifest.get("tombstones", 0)),
                encoder=str(manifest.get("encoder", {}).get("name", "")),
            )
        )
    return infos
