"""The HTTP service: `create_app(Settings(index_dir=...))` returns a FastAPI app."""

from __future__ import annotations

from api.app import create_app
from api.settings import Settings

__all__ = ["Settings", "create_app"]
