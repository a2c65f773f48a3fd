"""Reading a file an administrator gave on the command line, with an error that says what went wrong."""

from __future__ import annotations

from pathlib import Path

from remediate.errors import UsageError
from remediate.i18n import _


def read_input_bytes(path: Path, what: str, error: type[UsageError] = UsageError) -> bytes:
    """The bytes of `path`; `what` names the file in messages (translated: _("hosts file"))."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise error(_("{what} not found: {path}").format(what=what, path=path)) from None
    except IsADirectoryError:
        raise error(_("{what} is a folder, not a file: {path}").format(what=what, path=path)) from None
    except OSError as failure:
        raise error(_("cannot read {what} {path}: {reason}").format(what=what, path=path,
                                                                    reason=failure.strerror or failure)) from None
