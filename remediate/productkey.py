"""ProductKey: a Windows 5x5 product key that never shows itself in full.

A key is five groups of five characters over ``BCDFGHJKMPQRTVWXY2346789`` plus at most one ``N``, separated by
hyphens. Everything that prints a ProductKey (str, repr, f-strings, error messages) shows the masked form
``XXXXX-XXXXX-XXXXX-XXXXX-T83GX``; only `ProductKey.reveal` returns the key itself.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path
from typing import Any, NoReturn

import yaml

from remediate.errors import Location, ProductKeyError
from remediate.i18n import N_, _, ngettext

KEY_ALPHABET = "BCDFGHJKMPQRTVWXY2346789"
_MASK = "XXXXX-XXXXX-XXXXX-XXXXX-"

# Characters that look like a hyphen: pasted from Word/Outlook/web pages, or typed with a Japanese IME.
DASH_LOOKALIKES: dict[str, str] = {
    "\u2010": N_("a Unicode hyphen (U+2010)"),
    "\u2011": N_("a non-breaking hyphen (U+2011)"),
    "\u2012": N_("a figure dash (U+2012)"),
    "\u2013": N_("an en dash (U+2013)"),
    "\u2014": N_("an em dash (U+2014)"),
    "\u2015": N_("a horizontal bar (U+2015)"),
    "\u2212": N_("a minus sign (U+2212)"),
    "\u30fc": N_("a katakana long vowel mark ー (U+30FC)"),
    "\u2500": N_("a box-drawing line ─ (U+2500)"),
    "\u00ad": N_("a soft hyphen (U+00AD)"),
    "_": N_("an underscore"),
    " ": N_("a space"),
    "\u3000": N_("an ideographic space (U+3000)"),
}

# Characters that can never appear in a key, with what to tell the user.
_NEVER = {
    **dict.fromkeys("0O", N_("the letter O and the digit 0 never appear in product keys")),
    **dict.fromkeys("1IL", N_("the letters I and L and the digit 1 never appear in product keys")),
    **dict.fromkeys("5S", N_("the letter S and the digit 5 never appear in product keys")),
    **dict.fromkeys("AEUZ", N_("the letters A, E, U and Z never appear in product keys")),
}

_KEY_CHAR = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
# Whatever may stand for a hyphen between groups: every Unicode dash (category Pd), the named look-alikes, and
# a few more signs that look like one (modifier minus, hyphen bullet, heavy minus, half-width long vowel mark).
_DASHES = (
    "-\u058a\u05be\u1400\u1806\u2010-\u2015\u2e17\u2e1a\u2e3a\u2e3b\u2e40\u2e5d\u301c\u3030\u30a0\ufe31\ufe32"
    "\ufe58\ufe63\uff0d\U00010ead"
    + "".join(ch for ch in DASH_LOOKALIKES if ch not in " _\u3000")
    + "\u02d7\u2043\u2796\uff70"
)
_DASH_CLASS = "\\" + _DASHES  # the leading hyphen escaped: a literal in a character class
# Spaces (every Unicode space separator and tab) and the underscore separate groups too.
_SPACES = " \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000_"
_IS_DASH = re.compile(f"[{_DASH_CLASS}]")
_SEPARATOR = f"[{_DASH_CLASS}{_SPACES}]"
# Every position where a run of five groups of five starts (overlapping runs included), the groups separated
# by up to three dashes or spaces each, at least one separator in all.
_KEY_WINDOW = re.compile(
    f"(?=([{_KEY_CHAR}]{{5}}(?:{_SEPARATOR}{{0,3}}[{_KEY_CHAR}]{{5}}){{4}}))(?=[{_KEY_CHAR}]{{0,24}}{_SEPARATOR})"
)
# 25 letters and digits in a row, standing on their own: not a piece of a longer word, hash or base64 blob.
_KEY_WORD = re.compile(f"(?<![{_KEY_CHAR}+/])[{_KEY_CHAR}]{{25}}(?![{_KEY_CHAR}+/])")
_GROUP = re.compile(f"[{_KEY_CHAR}]{{5}}")
_ONE_KEY_CHAR = re.compile(f"[{_KEY_CHAR}]")
_HYPHENATED = re.compile(f"[{_KEY_CHAR}]{{5}}(?:[{_DASH_CLASS}][{_KEY_CHAR}]{{5}}){{4}}")
_WITHOUT_KEY_LETTERS = str.maketrans("", "", KEY_ALPHABET + "N")


def has_product_key(text: str) -> bool:
    """`text` holds something `mask_product_keys` masks: a product key, or something typed as one."""
    return mask_product_keys(text) != text


def mask_product_keys(text: str) -> str:
    """Mask every product-key-shaped run in `text`, keeping its last group.

    A key shows as ``XXXXX-XXXXX-XXXXX-XXXXX-T83GX`` whatever its case, full-width characters, and whatever
    stands between its groups: a hyphen or a look-alike (en dash, minus sign, ...), spaces, an underscore, a
    mix of these, or nothing.

    - Five groups of five letters and digits joined by single hyphens or look-alikes are masked wherever they
      stand: masking a little too much is harmless, showing a key glued to other text is not.
    - Joined any other way, a run is masked when it holds a letter and its characters are a key's: all from
      the key alphabet, or letters and digits with at most two outside it (a key with a typo). Words,
      numbers and SIDs stay readable (a key without a letter is one in a trillion).
    - Without separators, 25 letters and digits count only standing on their own (no letter, digit, + or /
      right before or after: not a piece of a longer word, hash or base64 blob); then any mix of letters and
      digits counts, as a key pasted without its hyphens.

    Dashes between masked groups become ``-``, other separators stay; the text keeps its length, so
    overlapping or chained runs cannot uncover each other.
    """
    if len(text) < 25:  # a key takes 25 characters at least
        return text
    if len(text) <= _KEPT_TEXT:
        return _masked_kept(text)
    return _masked(text)


def _masked(text: str) -> str:
    runs = [(match.start(), match.start() + len(match.group(1))) for match in _KEY_WINDOW.finditer(text)]
    runs += [match.span() for match in _KEY_WORD.finditer(text)]
    chars: list[str] | None = None
    for start, end in runs:
        if not _is_key(text[start:end]):
            continue
        if chars is None:
            chars = list(text)
        for index in range(start, end - 5):
            if _ONE_KEY_CHAR.match(text[index]):
                chars[index] = "X"
            elif _IS_DASH.match(text[index]):
                chars[index] = "-"
    return text if chars is None else "".join(chars)


# The same texts come back from every host of a fleet (a step's output, its data): each is masked once.
_KEPT_TEXT = 4096
_masked_kept = functools.lru_cache(maxsize=2048)(_masked)


def _is_key(run: str) -> bool:
    if _HYPHENATED.fullmatch(run):
        return True
    characters = "".join(_GROUP.findall(run))
    characters = (characters if characters.isascii() else unicodedata.normalize("NFKC", characters)).upper()
    if characters.isdigit():
        return False
    outside = characters.translate(_WITHOUT_KEY_LETTERS)
    if not outside:
        return True
    if len(outside) > 2 and len(characters) < len(run):  # more than a typo's worth, and separators
        return False
    return not characters.isalpha()  # letters and digits


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
            raise ProductKeyError(_("a product key must be text, not {name}").format(name=type(text).__name__), where)
        normalized = _normalize(text)
        problems = _problems(normalized)
        if problems:
            raise ProductKeyError(
                _("not a valid product key: {problems}").format(problems="; ".join(problems)),
                where,
                hint=_("a product key is five groups of five characters separated by hyphens, like "
                       "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX"),
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
        return _(DASH_LOOKALIKES[char])
    if char.isprintable() and char.isascii():
        return f"'{char}'"
    name = unicodedata.name(char, "")
    return f"'{char}' (U+{ord(char):04X}{' ' + name if name else ''})" if char.isprintable() else (
        f"U+{ord(char):04X}{' ' + name if name else ''}"
    )


def _problems(key: str) -> list[str]:
    """Everything wrong with a normalized key; each problem names positions and single characters only."""
    if not key:
        return [_("the key is empty")]
    problems: list[str] = []
    lookalikes = [(i, ch) for i, ch in enumerate(key, 1) if ch in DASH_LOOKALIKES]
    for position, char in lookalikes:
        problems.append(_("character {position} is {value}, not a hyphen '-'").format(
            position=position, value=_describe(char)))
    if lookalikes:
        # Judge the rest as if the look-alikes had been hyphens, so the user sees every problem at once.
        key = "".join("-" if ch in DASH_LOOKALIKES else ch for ch in key)
    groups = key.split("-")
    if len(groups) != 5:
        if len(groups) == 1 and len(key) == 25:
            problems.append(_("the hyphens are missing: write the 25 characters as five groups of five"))
        else:
            problems.append(ngettext("found {count} group, expected 5", "found {count} groups, expected 5",
                                     len(groups)).format(count=len(groups)))
    else:
        for number, group in enumerate(groups, 1):
            if len(group) != 5:
                problems.append(ngettext("group {number} has {count} character, expected 5",
                                         "group {number} has {count} characters, expected 5",
                                         len(group)).format(number=number, count=len(group)))
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
                problems.append(_("character {position} is a second N: a product key has at most one N").format(
                    position=position))
            continue
        if char in _NEVER:
            hint = _NEVER[char]
            text = _("character {position} is '{char}'").format(position=position, char=char)
            if hint not in seen_hint:
                text = _("character {position} is '{char}': {hint}").format(position=position, char=char,
                                                                               hint=_(hint))
                seen_hint.add(hint)
            problems.append(text)
            continue
        bad_other = True
        problems.append(_("character {position} is {value}, which never appears in product keys").format(
            position=position, value=_describe(char)))
    if seen_hint or bad_other:
        problems.append(_("allowed characters: {characters}, and at most one N").format(
            characters=" ".join(KEY_ALPHABET)))
    return problems


@functools.cache
def _generic_keys() -> dict[str, str]:
    """The generic (default) keys setup uses to choose an edition: key -> edition (data/generic_keys.yaml)."""
    table = yaml.safe_load((Path(__file__).resolve().parent / "data" / "generic_keys.yaml").read_text("utf-8"))
    return {str(key).upper(): str(edition) for key, edition in table.items()}


def generic_default_edition(key: ProductKey) -> str | None:
    """The edition whose generic default key this is: it installs, but can never activate. None otherwise."""
    return _generic_keys().get(key.reveal().upper())
