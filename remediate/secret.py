"""Secret, masking and the one redactor: a password or other secret text that never prints itself.

``str``, ``repr`` and f-strings show ``********``. Pickling raises TypeError, and ``json.dumps`` fails with
its usual TypeError (a Secret is not a str), so a secret cannot leave the process by accident;
`Secret.reveal` is the one way to read it, at the last moment, to hand it to the host. `scrub` and the
`Redactor` mask secrets and product keys in any text or JSON-like value that leaves the process.
"""

from __future__ import annotations

import hmac
import re
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn

from remediate.productkey import ProductKey, mask_product_keys

MASK = "********"
MAX_TEXT = 8000  # characters a Redactor keeps of any one text (script output can be long)


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


def _walk_secrets(value: Any) -> Iterator[Secret | ProductKey]:
    if isinstance(value, (Secret, ProductKey)):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk_secrets(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk_secrets(item)


def secrets_in(parameters: Mapping[str, Any]) -> list[Secret | ProductKey]:
    """Every secret among a step's raw parameter values (to scrub them from what comes back)."""
    return list(_walk_secrets(parameters))


class Redactor:
    """Masks product keys, scrubs known secrets and truncates long texts, in any JSON-like value."""

    def __init__(self, secrets: Iterable[Secret | ProductKey] = (), max_text: int | None = MAX_TEXT) -> None:
        self._secrets: list[Secret | ProductKey] = []
        self._max_text = max_text
        self.add(secrets)

    def add(self, secrets: Iterable[Secret | ProductKey]) -> None:
        self._secrets.extend(secrets)

    def text(self, value: str) -> str:
        masked = scrub(value, self._secrets)
        if self._max_text is not None and len(masked) > self._max_text:
            cut = len(masked) - self._max_text
            masked = f"{masked[: self._max_text]}... [{cut} more characters not kept]"
        return masked

    def value(self, value: Any) -> Any:
        """A JSON-ready copy of `value` with every string redacted (mapping keys: product keys masked)."""
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, Mapping):
            return {mask_product_keys(str(key)): self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.value(item) for item in value]
        # Anything else (a ProductKey, a Secret, an ErrorCode, a Path): its str(), which masks what it must.
        return self.text(str(value))
