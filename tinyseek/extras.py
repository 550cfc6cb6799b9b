"""Optional extras: a command that needs one fails before doing any work, naming the exact
install command."""

from __future__ import annotations

import importlib.util


class MissingExtraError(ImportError):
    """An optional dependency group (a pip extra) is not installed."""


def missing_modules(*modules: str) -> list[str]:
    """The modules among `modules` that cannot be imported here."""
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def require(extra: str, *modules: str, alternative: str = "") -> None:
    """Raise MissingExtraError unless every module of `modules` (from `extra`) is importable;
    `alternative` names another way out (e.g. "pass --no-plots")."""
    missing = missing_modules(*modules)
    if missing:
        raise MissingExtraError(
            f"this needs the {extra!r} extra (missing: {', '.join(missing)}); "
            f"install it with: pip install 'tinyseek[{extra}]'"
            + (f", or {alternative}" if alternative else "")
        )
