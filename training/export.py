"""Student -> deployable graphs: int8 TorchScript and int8 ONNX (build time only).

Linear layers: dynamic int8 with per-channel (per output row) weight scales; per-tensor
scales drift measurably further from the teacher. Word embeddings: int8 with a per-row scale,
stored inside each graph (4x smaller than fp32, cosine to fp32 > 0.999).
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from tinyseek.training.student import RowQuantizedEmbedding, StudentEncoder

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


def export_onnx(model: nn.Module, path: Path, quantize: bool = True) -> None:
    """fp32 ONNX export -> ORT graph optimisation -> per-channel dynamic int8 MatMuls."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    raw = path.with_suffix(".fp32.onnx")
    optimized = path.with_suffix(".opt.onnx")
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model.eval(),
                (example_input(),),
                str(raw),
                input_names=["input_ids"],
                output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        _optimize_onnx(raw, optimized)
        if quantize:
            with _quiet_root_logger():  # a generic "consider pre-processing" WARNING:root
                quantize_dynamic(
                    str(optimized),
                    str(path),
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul", "Gemm"],
                    # fused contrib ops (SkipLayerNorm, BiasGelu) defeat ONNX shape inference
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                )
        else:
            optimized.replace(path)
        onnx.checker.check_model(str(path))
    finally:
        for tmp in (raw, optimized):
            tmp.unlink(missing_ok=True)


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Drop records logged straight on the root logger (onnxruntime's quantizer advice)."""

    def keep(record: logging.LogRecord) -> bool:
        return record.name != "root"

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _optimize_onnx(src: Path, dst: Path) -> None:
    """Offline ORT graph optimisation (constant folding, LayerNorm/GELU fusion, ...)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
