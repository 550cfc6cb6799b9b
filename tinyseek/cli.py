"""`tinyseek` command line: one subcommand family per package, registered lazily.

This is the entry point at the top of the dependency graph, the only module that
reaches every package, and only to register their subcommands. Each package's CLI
module keeps heavy imports inside its command functions so `tinyseek --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from tinyseek.extras import MissingExtraError
from tinyseek.settings import use_offline_defaults

COMMAND_MODULES = (
    "tinyseek.search.commands",
    "tinyseek.indexer.cli",
    "tinyseek.api.cli",
    "tinyseek.eval.cli",
    "tinyseek.training.cli",
)
EXIT_USAGE = 2


class _StderrHandler(logging.StreamHandler):
    """Writes to the current sys.stderr (which tests may swap between calls)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


def configure_logging() -> None:
    """The library logs under `tinyseek.*`; the command shows INFO and above on stderr
    (its results go to stdout)."""
    logger = logging.getLogger("tinyseek")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Formatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyseek", description="Lightweight hybrid semantic search for product catalogs."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    use_offline_defaults()
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, MissingExtraError) as exc:
        print(f"tinyseek {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
