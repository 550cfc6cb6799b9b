"""tinyseek: lightweight hybrid (BM25 + compact dense) search for product catalogs."""

from __future__ import annotations

from importlib.metadata import version

__version__ = version("tinyseek")
