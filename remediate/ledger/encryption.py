"""AES-GCM encryption of stored keys, under a key file the operator keeps (never in the database).

The file holds at least 32 bytes of secret (`head -c 32 /dev/urandom > ledger.key`); the AES-256 key is derived
from it with HKDF-SHA256. Each stored key is sealed with a fresh 96-bit nonce, and its fingerprint is the
associated data, so a sealed key copied onto another key's row does not open.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from remediate.errors import UsageError
from remediate.i18n import _
from remediate.input_file import read_input_bytes
from remediate.productkey import ProductKey

MIN_KEY_FILE_BYTES = 32
NONCE_BYTES = 12
_INFO = b"remediate ledger key encryption v1"
_CHECK_TEXT = b"remediate ledger encryption check"


class KeyCipher:
    """Seals and opens product keys with the operator's key file."""

    def __init__(self, material: bytes, source: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material)
        self._aead = AESGCM(derived)
        self.source = source

    @classmethod
    def load(cls, path: str | Path) -> KeyCipher:
        material = read_input_bytes(Path(path), _("ledger encryption key file"))
        if len(material) < MIN_KEY_FILE_BYTES:
            raise UsageError(
                _("ledger encryption key file {path}: {count} bytes; it needs at least {MIN_KEY_FILE_BYTES}").format(
                    path=path, count=len(material), MIN_KEY_FILE_BYTES=MIN_KEY_FILE_BYTES),
                hint=_("make one with: head -c 32 /dev/urandom > ledger.key && chmod 600 ledger.key"),
            )
        return cls(material, str(path))

    def seal(self, key: ProductKey, fingerprint: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key.reveal().encode("ascii"), fingerprint.encode("ascii"))

    def open(self, sealed: bytes, fingerprint: str) -> ProductKey:
        try:
            plain = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], fingerprint.encode("ascii"))
        except InvalidTag:
            raise self.wrong_key() from None
        return ProductKey.parse(plain.decode("ascii"), source="the ledger")

    def check_value(self) -> str:
        """A sealed known text (hex), stored with the first encrypted key, to recognise the key file later."""
        nonce = os.urandom(NONCE_BYTES)
        return (nonce + self._aead.encrypt(nonce, _CHECK_TEXT, None)).hex()

    def matches(self, check_value: str) -> bool:
        sealed = bytes.fromhex(check_value)
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], None) == _CHECK_TEXT
        except InvalidTag:
            return False

    def wrong_key(self) -> UsageError:
        return UsageError(_("ledger encryption key file {source} is not the one the ledger's keys were "
                            "encrypted with").format(source=self.source))
