"""Reading a file an administrator gave on the command line, with an error that says what went wrong."""

from __future__ import annotations

from pathlib import Path

from remediate.errors import UsageError


def read_input_bytes(path: Path, what: str, error: type[UsageError] = UsageError) -> bytes:
    """The bytes of `path`; `what` names the file in messages ("hosts file", "secrets file")."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise error(f"{what} is a folder, not a file: {path}") from None
    except OSError as failure:
        raise error(f"cannot read {what} {path}: {failure.strerror or failure}") from None
