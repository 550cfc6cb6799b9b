"""tinyseek's library facade: open an index directory and search it."""

from __future__ import annotations

from search.engine import Engine
from search.filters import Filters
from search.types import FusionMethod, FusionWeights, Hit, Product, SearchMode

__all__ = ["Engine", "Filters", "FusionMethod", "FusionWeights", "Hit", "Product", "SearchMode"]
