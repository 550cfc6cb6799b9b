"""Teacher -> student: catalog text, query-like views, importance scores, MSE distillation.

Everything here is seeded and runs on the CPU. Texts whose crc32 % HOLDOUT_MODULUS == 0 are
never trained on, so `verify-model` can measure fidelity on held-out catalog text.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from tinyseek.indexer.readers import read_catalog
from tinyseek.search.types import Product
from tinyseek.training.student import PAD_ID, Layer, StudentEncoder

log = logging.getLogger(__name__)

HOLDOUT_MODULUS = 20
CATEGORY_SEPARATORS = (">", "/", "|")


def is_held_out(text: str) -> bool:
    """Deterministic 5% hold-out of distillation text, independent of order and seed."""
    return zlib.crc32(text.encode("utf-8")) % HOLDOUT_MODULUS == 0


def read_products(path: Path) -> list[Product]:
    """The valid products of a catalog (any format `tinyseek index` reads); rows it would
    reject are skipped and counted in the log."""
    products: list[Product] = []
    rejected = 0
    for item in read_catalog(path):
        if isinstance(item, Product):
            products.append(item)
        else:
            rejected += 1
    if rejected:
        log.warning("%s: %d rows skipped (not valid products)", path, rejected)
    if not products:
        raise ValueError(f"{path}: no valid products to distill on")
    return products


def _clean(text: str) -> str:
    return " ".join(text.split())


def category_leaf(category: str) -> str:
    for sep in CATEGORY_SEPARATORS:
        category = category.split(sep)[-1]
    return category.strip()


def query_views(product: Product, rng: random.Random) -> list[str]:
    """Cheap query-like texts for one product: title n-grams, category leaf, brand + type."""
    words = _clean(product.title).split()
    views: list[str] = []
    for low, high in ((1, 3), (2, 5)):
        if words:
            n = min(rng.randint(low, high), len(words))
            start = rng.randint(0, len(words) - n)
            views.append(" ".join(words[start : start + n]).lower())
    brand, leaf = _clean(product.brand), category_leaf(_clean(product.category))
    if leaf:
        views.append(leaf.lower())
        if brand:
            views.append(f"{brand} {leaf}".lower())
    elif brand and len(words) > 1:
        views.append(f"{brand} {words[-1]}".lower())
    return views


def document_texts(product: Product) -> list[str]:
    """Texts an indexer may embed for a product: its title, and its description when it
    differs."""
    title, text = _clean(product.title), _clean(product.description)
    return [t for t in dict.fromkeys((title, text)) if t]


@dataclass(frozen=True)
class DistillationText:
    documents: list[str]
    queries: list[str]

    @property
    def all(self) -> list[str]:
        return self.documents + self.queries


def distillation_texts(
    products: Sequence[Product], seed: int
) -> tuple[DistillationText, DistillationText]:
    """(train, held_out) documents and query views, deduplicated, in a deterministic order."""
    rng = random.Random(seed)
    docs: dict[str, None] = {}
    queries: dict[str, None] = {}
    for product in products:
        for text in document_texts(product):
            docs[text] = None
        for view in query_views(product, rng):
            queries[view] = None

    def split(texts: dict[str, None]) -> tuple[list[str], list[str]]:
        train = [t for t in texts if not is_held_out(t)]
        held = [t for t in texts if is_held_out(t)]
        return train, held

    (d_train, d_held), (q_train, q_held) = split(docs), split(queries)
    return DistillationText(d_train, q_train), DistillationText(d_held, q_held)


def pad_batch(ids: Sequence[Sequence[int]]) -> torch.Tensor:
    n = max(len(i) for i in ids)
    return torch.tensor([list(i) + [PAD_ID] * (n - len(i)) for i in ids], dtype=torch.long)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="text", disable=not enabled, leave=False)


@torch.inference_mode()
def embed_texts(
    model: StudentEncoder,
    tokenizer: Tokenizer,
    texts: Sequence[str],
    batch_size: int = 128,
    desc: str = "embedding",
    show_progress: bool = True,
) -> torch.Tensor:
    """(len(texts), dim) embeddings in input order, computed over length-sorted batches."""
    model.eval()
    ids = [e.ids for e in tokenizer.encode_batch(list(texts))]
    out = torch.empty(len(texts), model.config.hidden)
    with progress(len(texts), desc, show_progress) as bar:
        for batch in length_sorted_batches([len(i) for i in ids], batch_size):
            out[batch] = model(pad_batch([ids[i] for i in batch]))
            bar.update(len(batch))
    return out


@torch.inference_mode()
def importance_scores(
    model: StudentEncoder, tokenizer: Tokenizer, texts: Sequence[str], batch_size: int = 64
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per layer: head importance (heads,) and FFN neuron importance (ffn,).

    Importance is the mean L2 norm a unit adds to the residual stream over real tokens of
    `texts`: for a neuron |gelu activation| x ||its output weight column||; for a head the
    norm of its context vectors after the output projection.
    """
    model.eval()
    ids = [e.ids for e in tokenizer.encode_batch(list(texts))]
    head_scores = [torch.zeros(layer.heads) for layer in _layers(model)]
    ffn_scores = [torch.zeros(layer.ffn_in.out_features) for layer in _layers(model)]
    tokens = 0
    for batch in length_sorted_batches([len(i) for i in ids], batch_size):
        input_ids = pad_batch([ids[i] for i in batch])
        mask = (input_ids != PAD_ID).unsqueeze(-1).float()
        bias = ((mask - 1.0) * 1e4).transpose(1, 2).unsqueeze(1)
        x = model.embed_norm(model.word(input_ids) + model.position[: input_ids.size(1)])
        tokens += int(mask.sum())
        for i, layer in enumerate(_layers(model)):
            b, n, _ = x.shape
            qkv = layer.qkv(x).view(b, n, 3, layer.heads, layer.head_dim).permute(2, 0, 3, 1, 4)
            ctx = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=bias)
            w_out = layer.attn_out.weight.view(-1, layer.heads, layer.head_dim)  # (d, h, hd)
            per_head = torch.einsum("bhnd,ehd->bhne", ctx, w_out).norm(dim=-1)  # (b, h, n)
            head_scores[i] += (per_head * mask.squeeze(-1).unsqueeze(1)).sum(dim=(0, 2))
            ctx = ctx.transpose(1, 2).reshape(b, n, -1)
            x = layer.attn_norm(x + layer.attn_out(ctx))
            act = F.gelu(layer.ffn_in(x))
            ffn_scores[i] += (act.abs() * mask).sum(dim=(0, 1)) * layer.ffn_out.weight.norm(dim=0)
            x = layer.ffn_norm(x + layer.ffn_out(act))
    return [s / tokens for s in head_scores], [s / tokens for s in ffn_scores]


def _layers(model: StudentEncoder) -> list[Layer]:
    return [layer for layer in model.layers if isinstance(layer, Layer)]


def distill(
    student: StudentEncoder,
    token_ids: Sequence[Sequence[int]],
    targets: torch.Tensor,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-4,
    seed: int = 0,
    show_progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
) -> float:
    """MSE between the student's and the teacher's normalised embeddings; returns final loss.

    Batches are drawn from a seeded shuffle, sorted by length within windows of 32 batches
    to reduce padding; AdamW with linear warmup (5%) and linear decay.
    """
    if steps <= 0:
        return float("nan")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    student.train()
    optimizer = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup + 1)))
    )
    batches = _training_batches(token_ids, batch_size, generator)
    ema = float("nan")
    with progress(steps, "distilling", show_progress) as bar:
        bar.unit = "step"
        for step in range(steps):
            batch = next(batches)
            loss = F.mse_loss(student(pad_batch([token_ids[i] for i in batch])), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            value = float(loss)
            ema = value if ema != ema else 0.98 * ema + 0.02 * value
            if on_step is not None:
                on_step(step, value)
            bar.set_postfix(mse=f"{ema:.2e}", refresh=False)
            bar.update(1)
    student.eval()
    return ema


def _training_batches(
    token_ids: Sequence[Sequence[int]], batch_size: int, generator: torch.Generator
) -> Iterator[list[int]]:
    window = batch_size * 32
    while True:
        order = torch.randperm(len(token_ids), generator=generator).tolist()
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=lambda i: len(token_ids[i]))
            batches = [chunk[s : s + batch_size] for s in range(0, len(chunk), batch_size)]
            for j in torch.randperm(len(batches), generator=generator).tolist():
                yield batches[j]
