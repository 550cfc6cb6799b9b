"""Encoders: the `Encoder` interface, the fp32 teacher and the compact student artifacts."""

from __future__ import annotations

from tinyseek.models.encoder import Encoder, load_encoder

__all__ = ["Encoder", "load_encoder"]
