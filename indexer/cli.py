"""`tinyseek index`: build and publish an index generation from a catalog file."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("index", help="index a catalog (jsonl) into an index directory")
    parser.add_argument("catalog", help="catalog file (.jsonl)")
    parser.add_argument("--out", required=True, help="index directory (created if missing)")
    parser.add_argument(
        "--encoder",
        default="teacher",
        help="'teacher' (all-MiniLM-L6-v2 fp32), an encoder artifact dir, or a model path/hub id",
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch threads for encoding")
    parser.set_defaults(func=run_index)


def run_index(args: argparse.Namespace) -> int:
    from collections.abc import Iterator
    from pathlib import Path

    from indexer.build import build_index
    from indexer.readers import Reject, read_catalog
    from models.encoder import load_encoder
    from search.types import Product

    encoder = load_encoder(args.encoder, threads=args.threads)
    rejects: list[Reject] = []

    def products() -> Iterator[Product]:
        for item in read_catalog(Path(args.catalog)):
            if isinstance(item, Reject):
                rejects.append(item)
                print(f"rejected line {item.line}: {item.reason}", file=sys.stderr)
            else:
                yield item

    stats = build_index(products(), args.out, encoder, batch_size=args.batch_size, progress=True)
    print(
        f"indexed {stats.products} products ({len(rejects)} rejected) into {stats.generation} "
        f"in {stats.seconds:.1f} s"
    )
    return 0
