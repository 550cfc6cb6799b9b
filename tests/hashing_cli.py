"""`tinyseek ARGS` with the hashing test encoder standing in for every encoder.

For subprocess tests (crash points, corruption, load): `python -m tests.hashing_cli index
CATALOG --out DIR`, `... serve DIR --port P`, run from the repository root.
HASHING_ENCODER_DELAY=SECONDS slows every encoded batch down (a long rebuild).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import tinyseek.models.encoder
import tinyseek.search.engine
from tests.test_indexer_support import HashingEncoder


def _load(*args: Any, **kwargs: Any) -> HashingEncoder:
    return HashingEncoder(delay=float(os.environ.get("HASHING_ENCODER_DELAY", "0")))


def main() -> int:
    for module in (tinyseek.models.encoder, tinyseek.search.engine):
        module.load_encoder = _load  # type: ignore[assignment]
    tinyseek.models.encoder.check_encoder_spec = lambda spec: None  # type: ignore[assignment]
    from tinyseek.cli import main as tinyseek_main

    return tinyseek_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
