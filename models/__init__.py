"""Encoders at run time: the `Encoder` interface, `load_encoder`, the compact artifact loader
(ONNX Runtime) and the torch backends (fp32 teacher, TorchScript; the `train` extra).

Building encoders lives in `tinyseek.training`."""

from __future__ import annotations

from tinyseek.models.encoder import Encoder, load_encoder

__all__ = ["Encoder", "load_encoder"]
