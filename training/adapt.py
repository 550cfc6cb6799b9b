"""`tinyseek adapt CATALOG --out DIR`: adapt the encoder to a catalog without labels.

teacher (the default encoder's recipe: every layer; or a pruned student distilled as by
build-model when --layers is given) -> weak supervision from the catalog (training.weak) ->
fine-tuning with a contrastive loss (in-batch and hard negatives) plus the distance to the
teacher's embeddings, so the teacher's general semantics survive -> int8 artifact. Indexes
built with it keep the adaptive fusion (search.fusion.fuse_adaptive): fusion weights tuned on
weak pairs favour BM25's own words by construction (every weak query is made of its
product's words) and cost real queries before (Home Depot dev 0.392 -> 0.355 when they chose
how to weigh partial matches). Evaluation labels are never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from tinyseek.search.bm25 import BM25Index
from tinyseek.search.types import Product
from tinyseek.training.build import (
    BuildConfig,
    Prepared,
    prepare,
    pruned_student,
    train,
    write_artifact,
)
from tinyseek.training.distill import embed_texts, pad_batch, progress, read_products
from tinyseek.training.student import StudentEncoder
from tinyseek.training.weak import CatalogStats, WeakSupervision, make_views, supervise


@dataclass(frozen=True)
class AdaptConfig:
    views_per_product: int = 2
    depth: int = 20
    """BM25 candidates per view."""
    steps: int = 300
    """About 2.8 s a step for the whole teacher on 2 cores (batch 64: queries, positives,
    hard negatives; the 3-layer student takes 1.8 s)."""
    batch_size: int = 64
    lr: float = 1e-4
    temperature: float = 0.05
    distill_weight: float = 1.0
    """Weight of sum-of-squares distance to the teacher's embeddings beside the contrastive loss."""
    checkpoint_every: int = 250
    seed: int = 0


def bm25_searcher(products: Sequence[Product], work: Path) -> Any:
    """A function text, n -> top-n product indices, over a BM25 index of `products`."""
    index = BM25Index.create(work / "bm25")
    writer = index.writer()
    index.add(writer, range(len(products)), products)
    writer.commit()
    writer.wait_merging_threads()
    index.reload()

    def search(text: str, n: int) -> list[int]:
        return [ordinal for ordinal, _ in index.search(text, n)]

    return search


TeacherEmbed = Callable[[list[str]], torch.Tensor]


def teacher_embedder(prep: Prepared, show_progress: bool = True) -> TeacherEmbed:
    """The teacher's embeddings of texts, reusing the distillation targets already computed."""
    distilled = len(prep.targets) == len(prep.train_texts)  # else nothing was computed
    known = {text: row for row, text in enumerate(prep.train_texts)} if distilled else {}

    def embed(texts: list[str]) -> torch.Tensor:
        out = torch.empty(len(texts), prep.teacher.model.config.hidden)
        missing = [i for i, t in enumerate(texts) if t not in known]
        found = [i for i, t in enumerate(texts) if t in known]
        out[found] = prep.targets[[known[texts[i]] for i in found]]
        if missing:
            out[missing] = embed_texts(
                prep.teacher.model,
                prep.teacher.tokenizer,
                [texts[i] for i in missing],
                desc="teacher",
                show_progress=show_progress,
            )
        return out

    return embed


def weak_supervision(
    products: Sequence[Product], embed: TeacherEmbed, config: AdaptConfig, work: Path
) -> tuple[WeakSupervision, torch.Tensor, torch.Tensor]:
    """Triples plus the teacher's embeddings of every title and of every training query."""
    stats = CatalogStats.of(products)
    views = make_views(products, stats, config.views_per_product, config.seed)
    titles = embed([p.dense_text() for p in products])
    view_vecs = embed([v.text for v in views])

    def teacher_cos(q: np.ndarray, d: np.ndarray) -> np.ndarray:
        chunks = range(0, len(q), 65536)  # row by row products, in bounded memory
        return np.concatenate(
            [
                (view_vecs[q[i : i + 65536]] * titles[d[i : i + 65536]]).sum(1).numpy()
                for i in chunks
            ]
        )

    search = bm25_searcher(products, work)
    weak = supervise(products, views, search, teacher_cos, config.seed, config.depth)
    first_view = {v.text: i for i, v in reversed(list(enumerate(views)))}
    query_vecs = view_vecs[[first_view[q] for q in weak.queries]]
    return weak, titles, query_vecs


def _batches(weak: WeakSupervision, batch_size: int, seed: int) -> Iterator[list[int]]:
    """Seeded epochs of triples; a product is positive at most once per batch (no false
    in-batch negatives from a product's own views)."""
    rng = random.Random(seed)
    batch_size = min(batch_size, len(set(weak.positives)))  # tiny catalogs: fewer products
    while True:
        order = list(range(len(weak.queries)))
        rng.shuffle(order)
        batch: list[int] = []
        used: set[int] = set()
        deferred: list[int] = []
        for i in order:
            if weak.positives[i] in used:
                deferred.append(i)
                continue
            batch.append(i)
            used.add(weak.positives[i])
            if len(batch) == batch_size:
                yield batch
                batch, used = [], set()
                order.extend(deferred)
                deferred = []


def contrastive_distill(
    student: StudentEncoder,
    tokenizer: Tokenizer,
    weak: WeakSupervision,
    documents: Sequence[str],
    teacher_documents: torch.Tensor,
    teacher_queries: torch.Tensor,
    config: AdaptConfig,
    checkpoint: Path | None = None,
    show_progress: bool = True,
) -> list[float]:
    """Fine-tune in place; returns the loss of every step. Resumes from `checkpoint`."""
    if not weak.queries:
        raise ValueError("weak supervision produced no training triples")
    torch.manual_seed(config.seed)
    query_ids = [e.ids for e in tokenizer.encode_batch(weak.queries)]
    doc_ids = [e.ids for e in tokenizer.encode_batch(list(documents))]
    # The word embedding table keeps the teacher's vocabulary semantics (and is most of the
    # parameters): frozen, it costs no gradient and no optimizer state.
    student.word.requires_grad_(False)
    trainable = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=0.01)
    warmup = max(1, config.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, max(0.0, (config.steps - s) / (config.steps - warmup + 1))),
    )
    losses: list[float] = []
    fingerprint = _fingerprint(config, weak)
    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)
        if saved.get("fingerprint") != fingerprint:
            raise ValueError(
                f"checkpoint {checkpoint} was written by a run with another catalog or "
                "settings; delete it or pass another --checkpoint-dir"
            )
        student.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        losses = list(saved["losses"])
    batches = _batches(weak, config.batch_size, config.seed)
    for _ in range(len(losses)):  # replay the seeded order up to the checkpoint
        next(batches)
    student.train()
    labels = torch.arange(config.batch_size)
    with progress(config.steps, "adapting", show_progress) as bar:
        bar.unit = "step"
        bar.update(len(losses))
        for step in range(len(losses), config.steps):
            batch = next(batches)
            pos = [weak.positives[i] for i in batch]
            neg = [weak.negatives[i] for i in batch]
            q = student(pad_batch([query_ids[i] for i in batch]))
            d = student(pad_batch([doc_ids[i] for i in pos + neg]))
            scores = q @ d.T / config.temperature
            contrastive = F.cross_entropy(scores, labels[: len(batch)])
            distance = ((q - teacher_queries[batch]) ** 2).sum(1).mean() + (
                (d - teacher_documents[pos + neg]) ** 2
            ).sum(1).mean()
            loss = contrastive + config.distill_weight * distance
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", refresh=False)
            bar.update(1)
            if checkpoint is not None and (step + 1) % config.checkpoint_every == 0:
                _save_checkpoint(checkpoint, student, optimizer, schedule, losses, fingerprint)
    student.eval()
    return losses


def _fingerprint(config: AdaptConfig, weak: WeakSupervision) -> str:
    text = json.dumps(asdict(config), sort_keys=True) + json.dumps(
        [weak.queries, weak.positives, weak.negatives]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _save_checkpoint(
    path: Path,
    student: StudentEncoder,
    optimizer: Any,
    schedule: Any,
    losses: list[float],
    fingerprint: str,
) -> None:
    tmp = path.with_suffix(".tmp")
    state = {
        "fingerprint": fingerprint,
        "model": student.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "losses": losses,
    }
    torch.save(state, tmp)
    os.replace(tmp, path)


def adapt_artifact(
    out: Path, build: BuildConfig, config: AdaptConfig, checkpoint_dir: Path | None = None
) -> Path:
    """The whole pipeline; returns the published artifact directory."""
    started = time.perf_counter()
    catalog = build.catalog()
    prep = prepare(build)
    student, selection = pruned_student(prep)
    mse = train(prep, student)
    products = read_products(catalog)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp:
        work = Path(tmp)
        embed = teacher_embedder(prep, build.show_progress)
        weak, titles, query_vecs = weak_supervision(products, embed, config, work)
        weak_seconds = time.perf_counter() - started
        checkpoint = None
        if checkpoint_dir is not None:
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            checkpoint = checkpoint_dir / "adapt-checkpoint.pt"
        train_started = time.perf_counter()
        losses = contrastive_distill(
            student,
            prep.tokenizer,
            weak,
            [p.dense_text() for p in products],
            titles,
            query_vecs,
            config,
            checkpoint,
            build.show_progress,
        )
        prep.timings["adapt_s"] = round(time.perf_counter() - train_started, 1)
        staged = write_artifact(work / "artifact", prep, student, selection, mse, build)
        manifest = json.loads((staged / "manifest.json").read_text(encoding="utf-8"))
        manifest["adaptation"] = {
            "config": asdict(config),
            "weak_supervision": weak.statistics,
            "loss_first_50": round(float(np.mean(losses[:50])), 4),
            "loss_last_50": round(float(np.mean(losses[-50:])), 4),
            "seconds": {"until_triples": round(weak_seconds, 1)} | prep.timings,
        }
        (staged / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    return out
