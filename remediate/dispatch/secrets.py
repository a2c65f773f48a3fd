"""The run key: what seals every task of a dispatched run, so that nothing secret is in the broker in clear.

The controller and every worker are given one dispatch key file out of band (REMEDIATE_DISPATCH_KEY_FILE, at
least 16 bytes of secret; `head -c 32 /dev/urandom > dispatch.key`). The broker never sees it. Each run derives
its own key from it and the run's id (HKDF-SHA256), and seals each host's task with that key (Fernet: AES-128-CBC
and HMAC-SHA256): the task carries that host's plan, secret parameters and credentials, and no other host's. A
task sealed with another run's key or edited in the broker does not open, so a worker runs only what this run's
controller sent.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from remediate.errors import UsageError

KEY_FILE_ENV = "REMEDIATE_DISPATCH_KEY_FILE"
MIN_KEY_BYTES = 16


class SealError(Exception):
    """A task that does not open with this run's key (another run's, or edited in the broker)."""


def load_dispatch_key(path: str | Path | None = None) -> bytes:
    """The dispatch key shared by the controller and the workers: `path`, else $REMEDIATE_DISPATCH_KEY_FILE."""
    where = path or os.environ.get(KEY_FILE_ENV)
    if not where:
        raise UsageError(f"no dispatch key: set {KEY_FILE_ENV} to a file of at least {MIN_KEY_BYTES} secret bytes "
                         "that the controller and every worker have",
                         hint=f"make one with: head -c 32 /dev/urandom > dispatch.key; export {KEY_FILE_ENV}=…")
    try:
        key = Path(where).read_bytes().rstrip(b"\r\n")
    except OSError as error:
        raise UsageError(f"dispatch key file {where}: {error.strerror}") from None
    if len(key) < MIN_KEY_BYTES:
        raise UsageError(f"dispatch key file {where}: {len(key)} bytes; a key needs at least {MIN_KEY_BYTES}")
    return key


class RunKey:
    """One run's key, derived from the dispatch key and the run id: the same on the controller and its workers."""

    def __init__(self, dispatch_key: bytes, run_id: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=run_id.encode("utf-8"),
                       info=b"remediate dispatch run key").derive(dispatch_key)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, value: Any) -> str:
        """`value` (JSON-able) encrypted and authenticated."""
        return self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode("utf-8")).decode("ascii")

    def open(self, token: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError) as error:
            raise SealError("the task does not open with this run's key (another run's, or edited)") from error
