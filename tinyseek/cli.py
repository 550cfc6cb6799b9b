"""`tinyseek` command line: one subcommand family per package, registered lazily.

This is the entry point at the top of the dependency graph, the only module that
reaches every package, and only to register their subcommands. Each package's CLI
module keeps heavy imports inside its command functions so `tinyseek --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "tinyseek.search.commands",
    "tinyseek.indexer.cli",
    "tinyseek.models.cli",
    "tinyseek.api.cli",
    "tinyseek.eval.cli",
    "tinyseek.eval.verify_model",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyseek", description="Lightweight hybrid semantic search for product catalogs."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"tinyseek {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
