"""Where the shipped playbooks and templates live, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _shipped_dir(name: str) -> Path:
    # In a wheel the folders are mapped into the package; in a source checkout (or an editable install)
    # they stand at the top of the repository, beside the package.
    inside = _PACKAGE_DIR / name
    if inside.is_dir():
        return inside
    return _PACKAGE_DIR.parent / name


def playbooks_dir() -> Path:
    return _shipped_dir("playbooks")


def templates_dir() -> Path:
    return _shipped_dir("templates")
