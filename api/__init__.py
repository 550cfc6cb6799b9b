"""The HTTP service: `create_app(Settings(index_dir=...))` returns a FastAPI app.

Names load lazily so `tinyseek --help` (which imports `api.cli`) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinyseek.api.app import create_app
    from tinyseek.api.settings import Settings

_EXPORTS = {"create_app": "tinyseek.api.app", "Settings": "tinyseek.api.settings"}
__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'api' has no attribute {name!r}")
