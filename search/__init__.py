"""tinyseek's library facade: open an index directory and search it."""

from __future__ import annotations

from tinyseek.search.engine import Engine
from tinyseek.search.filters import Filters
from tinyseek.search.types import FusionMethod, FusionWeights, Hit, Product, SearchMode

__all__ = ["Engine", "Filters", "FusionMethod", "FusionWeights", "Hit", "Product", "SearchMode"]
