"""Secret: a password or other secret text that never prints itself.

``str``, ``repr`` and f-strings show ``********``. Pickling raises TypeError, and ``json.dumps`` fails with
its usual TypeError (a Secret is not a str), so a secret cannot leave the process by accident;
`Secret.reveal` is the one way to read it, at the last moment, to hand it to the host.
"""

from __future__ import annotations

import hmac
import re
import weakref
from collections.abc import Iterable
from typing import Any, NoReturn

from remediate.productkey import ProductKey, mask_product_keys

MASK = "********"


class Secret:
    """A secret value with a masked display. Every Secret alive is known to `live_secrets`."""

    __slots__ = ("__weakref__", "_value", "source")

    _value: str
    source: str | None

    def __init__(self, value: str, source: str | None = None) -> None:
        """`source` says where the value came from (``env LAB_PASSWORD``, ``secrets.txt:3``), for messages."""
        if not isinstance(value, str):
            raise TypeError("a Secret wraps a str")
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "source", source)
        _LIVE.add(self)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(
            self._value.encode("utf-8"), other._value.encode("utf-8")
        )

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is never pickled or serialized; call reveal() only to hand it to the host")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


# Every Secret still alive, so that a report of an unexpected error can mask them without being handed them.
_LIVE: weakref.WeakSet[Secret] = weakref.WeakSet()


def live_secrets() -> list[Secret]:
    """Every Secret this process still holds (passwords, secret parameter values)."""
    return list(_LIVE)


# A secret this short is masked only where it stands as a whole word: replacing every "p" of a one-letter
# password would leave the text unreadable and betray the secret's shape. Longer ones are masked everywhere.
SHORT_SECRET = 4
_WORD_START = r"(?<![0-9A-Za-z])"
_WORD_END = r"(?![0-9A-Za-z])"


def scrub(text: str, secrets: Iterable[Secret | ProductKey]) -> str:
    """`text` with each secret's value replaced by ``********`` and every product key masked."""
    values: list[tuple[str, str]] = []
    for secret in secrets:
        value = secret.reveal()
        if value:
            values.append((value, MASK if isinstance(secret, Secret) else secret.masked))
    # Longest first, so a secret that contains another is replaced whole.
    for value, replacement in sorted(values, key=lambda item: len(item[0]), reverse=True):
        if len(value) < SHORT_SECRET:
            text = re.sub(f"{_WORD_START}{re.escape(value)}{_WORD_END}", replacement, text)
        else:
            text = text.replace(value, replacement)
    return mask_product_keys(text)
