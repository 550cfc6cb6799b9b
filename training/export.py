"""Student -> deployable graphs: int8 TorchScript and int8 ONNX (build time only).

Linear layers: dynamic int8 with per-channel (per output row) weight scales; per-tensor
scales drift measurably further from the teacher. Word embeddings: int8 with a per-row scale,
stored inside each graph (4x smaller than fp32, cosine to fp32 > 0.999).

ONNX: a student whose layers all keep the same heads and FFN width is written as a
`transformers` BertModel and exported through ONNX Runtime's transformer optimizer, which
fuses each layer's attention into one `Attention` op and the embeddings into one
`EmbedLayerNormalization` (the graph then takes `input_ids` and `attention_mask`); a query of
a few tokens is dominated by per-op overhead, so fewer, fused ops are what makes it fast.
Other students keep the plain export (one `input_ids` input, mask computed in the graph).
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import cast

import torch
from torch import nn

from tinyseek.training.student import Layer, RowQuantizedEmbedding, StudentEncoder

ONNX_OPSET = 17


def with_int8_embeddings(model: StudentEncoder) -> StudentEncoder:
    """A copy of `model` whose word embedding table is int8 with per-row scales."""
    out = copy.deepcopy(model).eval()
    if isinstance(out.word, nn.Embedding):
        out.word = RowQuantizedEmbedding(out.word.weight.detach())
    return out


def quantize_linear_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantization of every nn.Linear, per-channel weight scales."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao deprecation notice (moved to torchao)
        return quantize_dynamic(
            copy.deepcopy(model).eval(), {nn.Linear: per_channel_dynamic_qconfig}
        )


def example_input(batch: int = 2, length: int = 9) -> torch.Tensor:
    """Tracing input: ids of real tokens with padding in the second row, so the mask path is
    exercised; the traced graph is shape-generic (sizes are read inside the graph)."""
    ids = torch.full((batch, length), 1000, dtype=torch.long)
    ids[:, 0] = 2
    if batch > 1:
        ids[1, length // 2 :] = 0
    return ids


def trace_torchscript(model: nn.Module, path: Path) -> torch.jit.ScriptModule:
    """Trace, freeze and save; returns the saved module."""
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(model.eval(), example_input(), check_trace=False)
        frozen = torch.jit.freeze(traced)
    torch.jit.save(frozen, str(path))
    return frozen


class PooledBert(nn.Module):
    """A transformers BertModel plus mean pooling and L2 normalisation, for export."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
        return nn.functional.normalize(pooled, p=2.0, dim=1)


def uniform_shape(model: StudentEncoder) -> bool:
    """Every layer keeps the same heads and FFN width (what a BertModel config can say)."""
    return len({(s.heads, s.ffn) for s in model.config.layers}) == 1


def to_bert(model: StudentEncoder) -> PooledBert:
    """The same network as a transformers BertModel (eager attention, which the ORT
    optimizer fuses); identical outputs up to float rounding."""
    from transformers import BertConfig, BertModel

    config = model.config
    shape = config.layers[0]
    bert = BertModel._from_config(
        BertConfig(
            vocab_size=config.vocab_size,
            hidden_size=config.hidden,
            num_hidden_layers=len(config.layers),
            num_attention_heads=shape.heads,
            intermediate_size=shape.ffn,
            max_position_embeddings=config.max_positions,
            type_vocab_size=1,
            layer_norm_eps=config.layer_norm_eps,
            hidden_act="gelu",
        ),
        attn_implementation="eager",
        add_pooling_layer=False,
    ).eval()
    word = model.word
    if isinstance(word, RowQuantizedEmbedding):
        weight = word.qweight.float() * word.scale
    else:
        weight = cast(nn.Embedding, word).weight
    inner = shape.heads * config.head_dim
    with torch.no_grad():
        emb = bert.embeddings
        emb.word_embeddings.weight.copy_(weight)
        emb.position_embeddings.weight.copy_(model.position)  # token type 0 folded in
        emb.token_type_embeddings.weight.zero_()
        emb.LayerNorm.load_state_dict(model.embed_norm.state_dict())
        for src_module, dst in zip(model.layers, bert.encoder.layer):
            src = cast(Layer, src_module)
            attention = dst.attention
            for i, name in enumerate(("query", "key", "value")):
                linear = getattr(attention.self, name)
                linear.weight.copy_(src.qkv.weight[i * inner : (i + 1) * inner])
                linear.bias.copy_(src.qkv.bias[i * inner : (i + 1) * inner])
            attention.output.dense.load_state_dict(src.attn_out.state_dict())
            attention.output.LayerNorm.load_state_dict(src.attn_norm.state_dict())
            dst.intermediate.dense.load_state_dict(src.ffn_in.state_dict())
            dst.output.dense.load_state_dict(src.ffn_out.state_dict())
            dst.output.LayerNorm.load_state_dict(src.ffn_norm.state_dict())
    return PooledBert(bert).eval()


def export_onnx(model: StudentEncoder, path: Path, quantize: bool = True) -> None:
    """fp32 ONNX export -> ORT graph optimisation (fused attention when the shape allows) ->
    per-channel dynamic int8."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    raw = path.with_suffix(".fp32.onnx")
    optimized = path.with_suffix(".opt.onnx")
    fused = uniform_shape(model)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fused:
                ids = example_input()
                torch.onnx.export(
                    to_bert(model),
                    (ids, (ids != 0).long()),
                    str(raw),
                    input_names=["input_ids", "attention_mask"],
                    output_names=["embedding"],
                    dynamic_axes={
                        "input_ids": {0: "batch", 1: "seq"},
                        "attention_mask": {0: "batch", 1: "seq"},
                        "embedding": {0: "batch"},
                    },
                    opset_version=ONNX_OPSET,
                    dynamo=False,
                )
            else:
                torch.onnx.export(
                    with_int8_embeddings(model),
                    (example_input(),),
                    str(raw),
                    input_names=["input_ids"],
                    output_names=["embedding"],
                    dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}},
                    opset_version=ONNX_OPSET,
                    dynamo=False,
                )
        if fused:
            _fuse_transformer(raw, optimized, model)
        else:
            _optimize_onnx(raw, optimized)
        if quantize:
            quantize_dynamic(
                str(optimized),
                str(path),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=None if fused else ["MatMul", "Gemm"],
                # fused contrib ops (SkipLayerNorm, BiasGelu) defeat ONNX shape inference
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        else:
            optimized.replace(path)
        onnx.checker.check_model(str(path))
    finally:
        for tmp in (raw, optimized):
            tmp.unlink(missing_ok=True)


def _fuse_transformer(src: Path, dst: Path, model: StudentEncoder) -> None:
    """ORT's BERT optimizer: Attention, EmbedLayerNormalization, SkipLayerNormalization and
    BiasGelu fusions; refuses a graph where the attention did not fuse."""
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(
        str(src),
        model_type="bert",
        num_heads=model.config.layers[0].heads,
        hidden_size=model.config.hidden,
        opt_level=1,
    )
    fused = optimized.get_fused_operator_statistics()
    if fused.get("Attention", 0) != len(model.config.layers):
        raise RuntimeError(f"ONNX Runtime fused {fused.get('Attention', 0)} attention layers "
                           f"of {len(model.config.layers)}; the export changed shape")  # fmt: skip
    optimized.save_model_to_file(str(dst))


def _optimize_onnx(src: Path, dst: Path) -> None:
    """Offline ORT graph optimisation (constant folding, LayerNorm/GELU fusion, ...)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
