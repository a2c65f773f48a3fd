"""The consoles remediate prints to: one place decides width, colour and wrapping."""

from __future__ import annotations

import os
import sys

from rich.console import Console

# A log file or a CI capture has no window to fit: tables keep whole rows instead of folding into 80 columns.
PIPED_WIDTH = 200


def output_console() -> Console:
    """Standard output: tables, summaries, plans."""
    return Console(file=sys.stdout, highlight=False, emoji=False, soft_wrap=True, width=_width(sys.stdout))


def error_console() -> Console:
    """Standard error: progress, notes, warnings; it keeps standard output clean for --output json."""
    return Console(file=sys.stderr, highlight=False, emoji=False, width=_width(sys.stderr))


def _width(stream: object) -> int | None:
    isatty = getattr(stream, "isatty", None)
    if (callable(isatty) and isatty()) or os.environ.get("COLUMNS"):
        return None  # rich measures the terminal (or honours COLUMNS)
    return PIPED_WIDTH
