"""ProductKey: a Windows 5x5 product key that never shows itself in full.

A key is five groups of five characters over ``BCDFGHJKMPQRTVWXY2346789`` plus at most one ``N``, separated by
hyphens. Everything that prints a ProductKey (str, repr, f-strings, error messages) shows the masked form
``XXXXX-XXXXX-XXXXX-XXXXX-T83GX``; only `ProductKey.reveal` returns the key itself.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, NoReturn

from remediate.errors import Location, ProductKeyError

KEY_ALPHABET = "BCDFGHJKMPQRTVWXY2346789"
_ALLOWED_TEXT = " ".join(KEY_ALPHABET) + ", and at most one N"
_MASK = "XXXXX-XXXXX-XXXXX-XXXXX-"

# Characters that look like a hyphen: pasted from Word/Outlook/web pages, or typed with a Japanese IME.
DASH_LOOKALIKES: dict[str, str] = {
    "\u2010": "a Unicode hyphen (U+2010)",
    "\u2011": "a non-breaking hyphen (U+2011)",
    "\u2012": "a figure dash (U+2012)",
    "\u2013": "an en dash (U+2013)",
    "\u2014": "an em dash (U+2014)",
    "\u2015": "a horizontal bar (U+2015)",
    "\u2212": "a minus sign (U+2212)",
    "\u30fc": "a katakana long vowel mark ー (U+30FC)",
    "\u2500": "a box-drawing line ─ (U+2500)",
    "\u00ad": "a soft hyphen (U+00AD)",
    "_": "an underscore",
    " ": "a space",
    "\u3000": "an ideographic space (U+3000)",
}

# Characters that can never appear in a key, with what to tell the user.
_NEVER = {
    **dict.fromkeys("0O", "the letter O and the digit 0 never appear in product keys"),
    **dict.fromkeys("1IL", "the letters I and L and the digit 1 never appear in product keys"),
    **dict.fromkeys("5S", "the letter S and the digit 5 never appear in product keys"),
    **dict.fromkeys("AEUZ", "the letters A, E, U and Z never appear in product keys"),
}

_KEY_CHAR = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_DASH_CHARS = "\\-\uff0d\ufe63" + "".join(ch for ch in DASH_LOOKALIKES if ch not in " _\u3000")
# Every position where a key-shaped run of five groups starts (overlapping runs included). No word boundaries
# on purpose: masking a little too much is harmless, showing a key glued to other text is not.
_KEY_WINDOW = re.compile(f"(?=[{_KEY_CHAR}]{{5}}(?:[{_DASH_CHARS}][{_KEY_CHAR}]{{5}}){{4}})")
# A key written without hyphens: a word of exactly 25 letters and digits (with both, so that a long plain word
# stays readable). People paste keys that way, and `--secret-env name=$KEY` puts one where a name belongs.
_KEY_WORD = re.compile(f"(?<![{_KEY_CHAR}])[{_KEY_CHAR}]{{25}}(?![{_KEY_CHAR}])")


def has_key_groups(text: str) -> bool:
    """`text` holds a run of five hyphenated groups of five: a product key, or something typed as one."""
    return _KEY_WINDOW.search(text) is not None


def mask_product_keys(text: str) -> str:
    """Mask every product-key-shaped run in `text` (any case, hyphen look-alikes), keeping the last group.

    Each run's first four groups become ``XXXXX`` and its separators ``-``; the text keeps its length, so
    overlapping or chained runs cannot uncover each other. A 25-character word of letters and digits (a key
    without its hyphens) keeps its last five characters too.
    """
    chars: list[str] | None = None
    for match in _KEY_WINDOW.finditer(text):
        if chars is None:
            chars = list(text)
        start = match.start()
        for offset in range(24):
            chars[start + offset] = "-" if offset % 6 == 5 else "X"
    for match in _KEY_WORD.finditer(text):
        word = unicodedata.normalize("NFKC", match.group())
        if word.isalpha() or word.isdigit():
            continue
        if chars is None:
            chars = list(text)
        for offset in range(20):
            chars[match.start() + offset] = "X"
    return text if chars is None else "".join(chars)


class ProductKey:
    """A valid-looking 5x5 product key; shows only its last group."""

    __slots__ = ("_value", "source")

    _value: str
    source: str | None

    def __init__(self, value: str, source: str | None = None) -> None:
        # Private: use ProductKey.parse, which validates.
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "source", source)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("ProductKey is immutable")

    @classmethod
    def parse(cls, text: str, *, source: str | None = None) -> ProductKey:
        """Validate a typed or pasted key; raise ProductKeyError (which never contains the key) otherwise.

        `source` names where the key came from (an environment variable, a secrets file line) for messages.
        """
        where = Location(field=source) if source else None
        if not isinstance(text, str):
            raise ProductKeyError(f"a product key must be text, not {type(text).__name__}", where)
        normalized = _normalize(text)
        problems = _problems(normalized)
        if problems:
            raise ProductKeyError(
                "not a valid product key: " + "; ".join(problems),
                where,
                hint="a product key is five groups of five characters separated by hyphens, "
                "like XXXXX-XXXXX-XXXXX-XXXXX-XXXXX",
            )
        return cls(normalized, source)

    def reveal(self) -> str:
        """The full key. Call this only to hand the key to the host, never to print it."""
        return self._value

    @property
    def last_five(self) -> str:
        return self._value[-5:]

    @property
    def masked(self) -> str:
        return _MASK + self.last_five

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"ProductKey({self.masked})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProductKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("ProductKey", self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a ProductKey is never pickled: pass it to the host with reveal() at the last moment")

    def __copy__(self) -> ProductKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ProductKey:
        return self


def _normalize(text: str) -> str:
    # NFKC turns full-width letters, digits and the full-width hyphen into ASCII; keep look-alike dashes as
    # they are so that they can be named.
    return unicodedata.normalize("NFKC", text).strip().upper()


def _describe(char: str) -> str:
    if char in DASH_LOOKALIKES:
        return DASH_LOOKALIKES[char]
    if char.isprintable() and char.isascii():
        return f"'{char}'"
    name = unicodedata.name(char, "")
    return f"'{char}' (U+{ord(char):04X}{' ' + name if name else ''})" if char.isprintable() else (
        f"U+{ord(char):04X}{' ' + name if name else ''}"
    )


def _problems(key: str) -> list[str]:
    """Everything wrong with a normalized key; each problem names positions and single characters only."""
    if not key:
        return ["the key is empty"]
    problems: list[str] = []
    lookalikes = [(i, ch) for i, ch in enumerate(key, 1) if ch in DASH_LOOKALIKES]
    for position, char in lookalikes:
        problems.append(f"character {position} is {_describe(char)}, not a hyphen '-'")
    if lookalikes:
        # Judge the rest as if the look-alikes had been hyphens, so the user sees every problem at once.
        key = "".join("-" if ch in DASH_LOOKALIKES else ch for ch in key)
    groups = key.split("-")
    if len(groups) != 5:
        if len(groups) == 1 and len(key) == 25:
            problems.append("the hyphens are missing: write the 25 characters as five groups of five")
        else:
            problems.append(f"found {len(groups)} group{'s' if len(groups) != 1 else ''}, expected 5")
    else:
        for number, group in enumerate(groups, 1):
            if len(group) != 5:
                problems.append(f"group {number} has {len(group)} character{'s' if len(group) != 1 else ''}, "
                                "expected 5")
    problems.extend(_character_problems(key))
    return problems


def _character_problems(key: str) -> list[str]:
    problems: list[str] = []
    seen_hint: set[str] = set()
    bad_other = False
    n_count = 0
    for position, char in enumerate(key, 1):
        if char == "-" or char in KEY_ALPHABET:
            continue
        if char == "N":
            n_count += 1
            if n_count > 1:
                problems.append(f"character {position} is a second N: a product key has at most one N")
            continue
        if char in _NEVER:
            hint = _NEVER[char]
            text = f"character {position} is '{char}'"
            if hint not in seen_hint:
                text += f": {hint}"
                seen_hint.add(hint)
            problems.append(text)
            continue
        bad_other = True
        problems.append(f"character {position} is {_describe(char)}, which never appears in product keys")
    if seen_hint or bad_other:
        problems.append(f"allowed characters: {_ALLOWED_TEXT}")
    return problems
