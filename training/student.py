"""A compact BERT encoder in plain torch: the student that gets pruned, distilled and traced.

It reproduces the teacher's architecture (post-LayerNorm BERT, mean pooling, L2 norm) with
per-layer attention-head and FFN widths, so structured pruning just builds a smaller one.
Written without `transformers` so the traced graph is small and fully under our control:
fused QKV projection, `scaled_dot_product_attention`, padding mask computed in the graph
from the token ids, token-type 0 folded into the position table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

PAD_ID = 0


@dataclass(frozen=True)
class LayerShape:
    """Kept width of one transformer layer: attention heads and FFN neurons."""

    heads: int
    ffn: int


@dataclass(frozen=True)
class StudentConfig:
    vocab_size: int
    layers: tuple[LayerShape, ...]
    hidden: int = 384
    head_dim: int = 32
    max_positions: int = 512
    layer_norm_eps: float = 1e-12
    source_layers: tuple[int, ...] = field(default=())
    """Which teacher layers each student layer was initialised from (for the manifest)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StudentConfig:
        layers = tuple(LayerShape(**shape) for shape in data["layers"])
        rest = {k: v for k, v in data.items() if k not in ("layers", "source_layers")}
        return cls(layers=layers, source_layers=tuple(data.get("source_layers", ())), **rest)


class RowQuantizedEmbedding(nn.Module):
    """Embedding table stored as int8 with one fp32 scale per row (4x smaller, ~lossless)."""

    qweight: torch.Tensor
    scale: torch.Tensor

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        scale = weight.abs().amax(dim=1, keepdim=True).clamp_min(1e-8) / 127.0
        self.register_buffer("qweight", torch.round(weight / scale).to(torch.int8))
        self.register_buffer("scale", scale.float())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.qweight[ids].float() * self.scale[ids]


class Layer(nn.Module):
    def __init__(self, config: StudentConfig, shape: LayerShape) -> None:
        super().__init__()
        self.heads = shape.heads
        self.head_dim = config.head_dim
        inner = shape.heads * config.head_dim
        self.qkv = nn.Linear(config.hidden, 3 * inner)
        self.attn_out = nn.Linear(inner, config.hidden)
        self.attn_norm = nn.LayerNorm(config.hidden, eps=config.layer_norm_eps)
        self.ffn_in = nn.Linear(config.hidden, shape.ffn)
        self.ffn_out = nn.Linear(shape.ffn, config.hidden)
        self.ffn_norm = nn.LayerNorm(config.hidden, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = (
            self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        )
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        ctx = ctx.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)
        x = self.attn_norm(x + self.attn_out(ctx))
        return self.ffn_norm(x + self.ffn_out(F.gelu(self.ffn_in(x))))


class StudentEncoder(nn.Module):
    """input_ids (b, n) int64, 0 = padding -> L2-normalised mean-pooled embeddings (b, hidden)."""

    def __init__(self, config: StudentConfig) -> None:
        super().__init__()
        self.config = config
        self.word: nn.Module = nn.Embedding(config.vocab_size, config.hidden)
        # position + token-type-0 embeddings, pre-summed: one table, one lookup
        self.position = nn.Parameter(torch.zeros(config.max_positions, config.hidden))
        self.embed_norm = nn.LayerNorm(config.hidden, eps=config.layer_norm_eps)
        self.layers = nn.ModuleList(Layer(config, shape) for shape in config.layers)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = (input_ids != PAD_ID).unsqueeze(-1).to(torch.float32)  # (b, n, 1)
        # additive attention bias (b, 1, 1, n): 0 for tokens, large negative for padding
        bias = ((mask - 1.0) * 1e4).transpose(1, 2).unsqueeze(1)
        n = input_ids.size(1)
        x = self.embed_norm(self.word(input_ids) + self.position[:n])
        for layer in self.layers:
            x = layer(x, bias)
        pooled = (x * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
        return F.normalize(pooled, p=2.0, dim=1)


def load_teacher_state(teacher_dir: Path) -> dict[str, torch.Tensor]:
    """The teacher's BertModel weights (safetensors), keys without a `bert.` prefix."""
    from safetensors.torch import load_file

    path = teacher_dir / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{teacher_dir}: expected model.safetensors (a BERT teacher)")
    state = load_file(str(path))
    return {k.removeprefix("bert."): v for k, v in state.items()}


def teacher_config(state: dict[str, torch.Tensor], head_dim: int = 32) -> StudentConfig:
    """The full (unpruned) config that reproduces the teacher."""
    vocab, hidden = state["embeddings.word_embeddings.weight"].shape
    n_layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    ffn = state["encoder.layer.0.intermediate.dense.weight"].shape[0]
    heads = hidden // head_dim
    return StudentConfig(
        vocab_size=int(vocab),
        layers=tuple(LayerShape(heads, int(ffn)) for _ in range(n_layers)),
        hidden=int(hidden),
        head_dim=head_dim,
        max_positions=int(state["embeddings.position_embeddings.weight"].shape[0]),
        source_layers=tuple(range(n_layers)),
    )


@dataclass(frozen=True)
class Selection:
    """What to keep from the teacher: layers, per-kept-layer heads and FFN neurons, vocab ids."""

    layers: tuple[int, ...]
    heads: tuple[tuple[int, ...], ...]
    neurons: tuple[tuple[int, ...], ...]
    vocab: tuple[int, ...] | None = None


def build_student(state: dict[str, torch.Tensor], selection: Selection) -> StudentEncoder:
    """Copy the selected teacher weights into a smaller StudentEncoder."""
    full = teacher_config(state)
    hd = full.head_dim
    word = state["embeddings.word_embeddings.weight"]
    vocab = torch.tensor(selection.vocab) if selection.vocab is not None else None
    config = StudentConfig(
        vocab_size=int(word.shape[0] if vocab is None else len(vocab)),
        layers=tuple(
            LayerShape(len(h), len(f)) for h, f in zip(selection.heads, selection.neurons)
        ),
        hidden=full.hidden,
        head_dim=hd,
        max_positions=full.max_positions,
        layer_norm_eps=full.layer_norm_eps,
        source_layers=selection.layers,
    )
    model = StudentEncoder(config)
    with torch.no_grad():
        assert isinstance(model.word, nn.Embedding)
        model.word.weight.copy_(word if vocab is None else word[vocab])
        model.position.copy_(
            state["embeddings.position_embeddings.weight"]
            + state["embeddings.token_type_embeddings.weight"][0]
        )
        _copy_norm(model.embed_norm, state, "embeddings.LayerNorm")
        for dst, src, heads, neurons in zip(
            model.layers, selection.layers, selection.heads, selection.neurons
        ):
            assert isinstance(dst, Layer)
            p = f"encoder.layer.{src}."
            cols = torch.cat([torch.arange(h * hd, (h + 1) * hd) for h in heads])
            qkv_w = [
                state[f"{p}attention.self.{n}.weight"][cols] for n in ("query", "key", "value")
            ]
            qkv_b = [state[f"{p}attention.self.{n}.bias"][cols] for n in ("query", "key", "value")]
            dst.qkv.weight.copy_(torch.cat(qkv_w))
            dst.qkv.bias.copy_(torch.cat(qkv_b))
            dst.attn_out.weight.copy_(state[f"{p}attention.output.dense.weight"][:, cols])
            dst.attn_out.bias.copy_(state[f"{p}attention.output.dense.bias"])
            _copy_norm(dst.attn_norm, state, f"{p}attention.output.LayerNorm")
            idx = torch.tensor(neurons)
            dst.ffn_in.weight.copy_(state[f"{p}intermediate.dense.weight"][idx])
            dst.ffn_in.bias.copy_(state[f"{p}intermediate.dense.bias"][idx])
            dst.ffn_out.weight.copy_(state[f"{p}output.dense.weight"][:, idx])
            dst.ffn_out.bias.copy_(state[f"{p}output.dense.bias"])
            _copy_norm(dst.ffn_norm, state, f"{p}output.LayerNorm")
    return model


def full_selection(state: dict[str, torch.Tensor]) -> Selection:
    config = teacher_config(state)
    return Selection(
        layers=config.source_layers,
        heads=tuple(tuple(range(s.heads)) for s in config.layers),
        neurons=tuple(tuple(range(s.ffn)) for s in config.layers),
    )


def _copy_norm(norm: nn.LayerNorm, state: dict[str, torch.Tensor], prefix: str) -> None:
    norm.weight.copy_(state[f"{prefix}.weight"])
    norm.bias.copy_(state[f"{prefix}.bias"])


def save_student(model: StudentEncoder, path: Path) -> None:
    """fp32 student weights as safetensors, the config as JSON metadata (for benchmarks)."""
    import json

    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"config": json.dumps(model.config.to_json())})


def load_student(path: Path) -> StudentEncoder:
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as fh:
        metadata = fh.metadata() or {}
    if "config" not in metadata:
        raise ValueError(f"{path}: expected a student safetensors file with a 'config' metadata")
    model = StudentEncoder(StudentConfig.from_json(json.loads(metadata["config"])))
    model.load_state_dict(load_file(str(path)))
    return model.eval()
