"""`tinyseek search`: query an index from the command line."""

from __future__ import annotations

import argparse
import time
from typing import Any

from tinyseek.errors import exit_codes_help

FILTER_HELP = (
    "filter KEY=VALUE, repeatable; keys: category (path prefix), brand, price_min, price_max, "
    "rating_min, in_stock"
)


def parse_filter_args(items: list[str] | None) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--filter expects KEY=VALUE, got {item!r}")
        filters[key.strip()] = value.strip()
    return filters


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "search",
        help="search an index and print the results",
        epilog=exit_codes_help((0, 2, 5, 8)),
    )
    parser.add_argument("index_dir", help="index directory (built by `tinyseek index`)")
    parser.add_argument("query", help="search text")
    parser.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "bm25", "dense"])
    parser.add_argument("--filter", action="append", metavar="KEY=VALUE", help=FILTER_HELP)
    parser.add_argument(
        "--no-spell", action="store_true", help="search the text as typed (no spelling correction)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    parser.set_defaults(func=run_search)


def run_search(args: argparse.Namespace) -> int:
    import json

    from tinyseek.search.engine import Engine

    engine = Engine.open(args.index_dir)
    started = time.perf_counter()
    corrected = None if args.no_spell else engine.suggest(args.query)
    hits = engine.search(
        corrected or args.query,
        k=args.k,
        filters=parse_filter_args(args.filter),
        mode=args.mode,
        spell=False,
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    if args.json:
        for hit in hits:
            print(json.dumps({**hit.__dict__, "product": hit.product.to_dict()}))
        return 0
    if corrected:
        print(f'showing results for "{corrected}" (search instead for "{args.query}": --no-spell)')
    print(f'{len(hits)} results for "{corrected or args.query}" ({args.mode}, {elapsed_ms:.1f} ms)')
    for rank, hit in enumerate(hits, start=1):
        p = hit.product
        price = "" if p.price is None else f"${p.price:,.2f}"
        rating = "" if p.rating is None else f"{p.rating:.1f}*"
        stock = "in stock" if p.in_stock else "out of stock"
        sources = []
        if hit.bm25_rank is not None:
            sources.append(f"bm25 #{hit.bm25_rank}")
        if hit.dense_rank is not None:
            sources.append(f"dense #{hit.dense_rank}")
        print(f"{rank:>3}. {p.title}")
        details = " | ".join(x for x in (p.id, p.brand, p.category, price, rating, stock) if x)
        print(f"     {details}  [score {hit.score:.4f}; {', '.join(sources)}]")
    return 0
