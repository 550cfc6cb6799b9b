"""`tinyseek` command line: one subcommand family per package, registered lazily.

This is the entry point at the top of the dependency graph, the only module that
reaches every package, and only to register their subcommands. Each package's CLI
module keeps heavy imports inside its command functions so `tinyseek --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from tinyseek.errors import EXIT_INTERNAL, describe, exit_code_for
from tinyseek.settings import use_offline_defaults

COMMAND_MODULES = (
    "tinyseek.search.commands",
    "tinyseek.indexer.cli",
    "tinyseek.api.cli",
    "tinyseek.eval.cli",
    "tinyseek.training.cli",
)
DEBUG_ENV = "TINYSEEK_DEBUG"


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
    debug_help = f"print the traceback of a failure (also {DEBUG_ENV}=1)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    for command in sub.choices.values():
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. A failure prints one line naming its cause and exits with the
    documented code (`tinyseek.errors`); the traceback only with --debug."""
    use_offline_defaults()
    configure_logging()
    args = build_parser().parse_args(argv)
    debug = bool(args.debug) or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"tinyseek {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        code = exit_code_for(exc)
        hint = f" (run with --debug or {DEBUG_ENV}=1 for the traceback)"
        tail = hint if code == EXIT_INTERNAL and not debug else ""
        print(f"tinyseek {args.command}: error: {describe(exc)}{tail}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return code


if __name__ == "__main__":
    sys.exit(main())
