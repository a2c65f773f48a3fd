"""The ledger's fingerprint secret and the keyed hash that identifies a key without storing it.

A fingerprint is HMAC-SHA256 over the normalised key (upper case, hyphenated) under the ledger's secret: the
same key always gives the same fingerprint in one ledger, and nobody holding only the database can test whether
a known key (a published GVLK, a leaked MAK) is in it. The secret is 32 random bytes, written hex-encoded to a
file only its owner can read, on the ledger's first open.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from remediate.errors import UsageError
from remediate.i18n import _
from remediate.productkey import ProductKey
from remediate.secret import Secret

SECRET_BYTES = 32
_CHECK_TEXT = b"remediate ledger fingerprint check"


class FingerprintSecret:
    """The HMAC key of a ledger's fingerprints."""

    def __init__(self, secret: Secret) -> None:
        self._secret = secret

    @classmethod
    def load_or_create(cls, path: Path) -> FingerprintSecret:
        """Read the secret file, or create it (mode 0600) when there is none yet."""
        if not path.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it a moment ago: read that one
            except OSError as error:
                raise UsageError(_("cannot create the ledger secret file {path}: {strerror}").format(
                    path=path, strerror=error.strerror)) from None
            else:
                with os.fdopen(descriptor, "w", encoding="ascii") as file:
                    file.write(secrets.token_hex(SECRET_BYTES) + "\n")
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> FingerprintSecret:
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else _("not hex text")
            raise UsageError(_("ledger secret file {path}: {reason}").format(path=path, reason=reason)) from None
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) < SECRET_BYTES:
            raise UsageError(_("ledger secret file {path}: expected {value} hex digits").format(
                path=path, value=SECRET_BYTES * 2),
                             hint=_("it is written on the ledger's first open; restore it from a backup"))
        return cls(Secret(text, source=str(path)))

    def _key(self) -> bytes:
        return bytes.fromhex(self._secret.reveal())

    def fingerprint(self, key: ProductKey) -> str:
        return hmac.new(self._key(), key.reveal().encode("ascii"), hashlib.sha256).hexdigest()

    def check_value(self) -> str:
        """What the ledger stores to tell, on every open, that this is the secret its fingerprints were made with."""
        return hmac.new(self._key(), _CHECK_TEXT, hashlib.sha256).hexdigest()
