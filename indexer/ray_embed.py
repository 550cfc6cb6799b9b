"""The embedding stage of a catalog build on Ray Data (`tinyseek index --ray [ADDRESS]`).

The driver reads the catalog with the same reader as a local build (same ids, same
rejects) and cuts its products into blocks of `checkpoint_rows`, exactly where a local
build cuts its checkpoint shards, so a job started locally can resume on Ray and back.
Blocks go through `map_batches` over a pool of encoder actors (one ONNX session each, with
`threads` intra-op threads and as many CPUs reserved). Each actor writes the vectors of the
block it finished straight into the checkpoint as that block's shard (temporary name,
fsync, rename), so a finished block survives a killed worker *and* a killed driver; the
driver then records the shards in catalog order (`ShardFeed`), which the assembling stages
consume as in a local build: store, BM25 and the HNSW graph stay on the driver.

On resume, blocks whose shard file is already complete are adopted, not embedded again.
A killed worker's block is retried by Ray on a restarted actor.

Needs the `ray` extra: pip install 'tinyseek[ray]'.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyseek.extras import require
from tinyseek.failpoints import ENV as FAILPOINT_ENV
from tinyseek.failpoints import failpoint
from tinyseek.indexer.checkpoint import Checkpoint, ShardFeed
from tinyseek.indexer.embedding import BatchPolicy, embed_texts
from tinyseek.indexer.readers import Reject
from tinyseek.models.encoder import Encoder, load_encoder
from tinyseek.search.types import Product

log = logging.getLogger(__name__)

LOCAL = "local"
"""`--ray` without an address: start a Ray cluster on this machine for the job."""


@dataclass(frozen=True)
class RayOptions:
    address: str = LOCAL
    """A Ray cluster address ("auto", "ray://host:10001", "127.0.0.1:6379") or "local"."""
    workers: int | None = None
    """Encoder actors (default: the cluster's CPUs // threads)."""
    threads: int = 1
    """Intra-op threads (and CPUs reserved) per encoder actor."""


def encoder_spec(encoder: Encoder) -> str:
    """How a worker loads the same encoder: its artifact directory, else its name."""
    artifact = getattr(encoder, "artifact_dir", None)
    return str(artifact) if artifact else encoder.name


@dataclass(frozen=True)
class Block:
    number: int
    texts: list[str]
    consumed: int
    """Reader items (products and rejects) up to the end of this block."""


def catalog_blocks(items: Iterator[Product | Reject], rows: int) -> tuple[list[Block], int]:
    """The catalog's products cut into blocks of `rows` (where a local build cuts shards),
    and the number of reader items (products and rejects) in the whole catalog."""
    blocks: list[Block] = []
    texts: list[str] = []
    consumed = 0
    for item in items:
        consumed += 1
        if isinstance(item, Product):
            texts.append(item.dense_text())
        if len(texts) >= rows:
            blocks.append(Block(len(blocks), texts, consumed))
            texts = []
    if texts:
        blocks.append(Block(len(blocks), texts, consumed))
    return blocks, consumed


class EncodeBlocks:
    """A Ray Data actor: embeds whole blocks and persists each as its checkpoint shard."""

    def __init__(
        self, spec: str, name: str, threads: int, checkpoint_dir: str, policy: BatchPolicy
    ) -> None:
        self.encoder = load_encoder(spec, threads=threads)
        if self.encoder.name != name:
            raise RuntimeError(
                f"the worker loaded encoder {self.encoder.name!r} from {spec}, "
                f"the driver uses {name!r}: the workers must see the same artifact"
            )
        self.checkpoint = Checkpoint(Path(checkpoint_dir).parent)
        self.policy = policy

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        numbers, rows = [], []
        for number, texts in zip(batch["number"], batch["texts"]):
            failpoint("ray.encode_block")
            vectors = embed_texts(self.encoder, [str(t) for t in texts], self.policy)
            self.checkpoint.write_shard(int(number), vectors)
            numbers.append(int(number))
            rows.append(len(vectors))
        return {"number": np.array(numbers, dtype=np.int64), "rows": np.array(rows)}


def _init(address: str) -> Any:
    require("ray", "ray")
    import ray

    if not ray.is_initialized():
        # The workers see the driver's fail points (tests) and tokenizer setting.
        env = {"TOKENIZERS_PARALLELISM": "false"}
        if os.environ.get(FAILPOINT_ENV):
            env[FAILPOINT_ENV] = os.environ[FAILPOINT_ENV]
        runtime_env = {"env_vars": env}
        if address == LOCAL:
            ray.init(include_dashboard=False, log_to_driver=False, runtime_env=runtime_env)
        else:
            ray.init(address=address, log_to_driver=False, runtime_env=runtime_env)
    return ray


def ray_embed_stage(
    items: Callable[[], Iterator[Product | Reject]],
    encoder: Encoder,
    policy: BatchPolicy,
    checkpoint: Checkpoint,
    checkpoint_rows: int,
    options: RayOptions,
) -> Callable[[ShardFeed], None]:
    """The embedding stage for `indexer.build`: fills `feed` with every block's shard."""

    def embed(feed: ShardFeed) -> None:
        ray = _init(options.address)
        blocks, total = catalog_blocks(items(), checkpoint_rows)
        todo = blocks[len(feed.state.shards) :]
        pending = [b for b in todo if not checkpoint.has_shard(b.number, len(b.texts), feed.dim)]
        cpus = int(ray.cluster_resources().get("CPU", 1))
        workers = options.workers or max(1, cpus // options.threads)
        workers = max(1, min(workers, len(pending) or 1))
        log.info(
            "ray: %d blocks of %d rows; %d recorded, %d finished before an interruption "
            "(adopted), %d to embed on %d actors x %d threads",
            len(blocks), checkpoint_rows, len(blocks) - len(todo), len(todo) - len(pending),
            len(pending), workers, options.threads,
        )  # fmt: skip
        results: Iterator[dict[str, Any]] = iter(())
        if pending:
            context = ray.data.DataContext.get_current()
            context.execution_options.preserve_order = True  # results in catalog order
            context.enable_progress_bars = False
            results = iter(
                ray.data.from_items(
                    [{"number": b.number, "texts": b.texts} for b in pending],
                    override_num_blocks=len(pending),
                )
                .map_batches(
                    EncodeBlocks,
                    fn_constructor_kwargs={
                        "spec": encoder_spec(encoder),
                        "name": encoder.name,
                        "threads": options.threads,
                        "checkpoint_dir": str(checkpoint.path),
                        "policy": policy,
                    },
                    batch_size=1,
                    compute=ray.data.ActorPoolStrategy(size=workers),
                    num_cpus=options.threads,
                )
                .iter_rows()
            )
        waiting = {b.number for b in pending}
        for block in todo:  # record the shards in catalog order for the assembling stages
            feed.check()
            if block.number in waiting:
                row = next(results)
                if int(row["number"]) != block.number:
                    raise RuntimeError(f"ray returned block {row['number']}, not {block.number}")
                feed.encoded += int(row["rows"])
            feed.record(block.number, len(block.texts), block.consumed)
        feed.finish(total)

    return embed
