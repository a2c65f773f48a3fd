"""ErrorCode, the HRESULT of an activation error, and the table of codes Microsoft documents (data/codes.yaml).

An ErrorCode is always shown in canonical form, ``0xC004F074``: ``0x`` then eight upper-case hex digits.
Users meet the same code in many spellings (slmgr text, Settings dialogs typed through a Japanese IME,
decimal process exit codes, ``LicenseStatusReason`` read through CIM); `ErrorCode.parse` accepts them all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, total_ordering
from pathlib import Path

import yaml

from remediate.errors import UsageError

CATEGORIES = ("kms", "dns", "key", "count", "network", "genuine", "edition", "clock", "access", "other")

_MAX_UNSIGNED = 0xFFFFFFFF
_MIN_SIGNED = -0x80000000

# "0x", "0X", and the letter O typed for the zero ("Ox", "OX", "ox", "oX").
_PREFIXED_HEX = re.compile(r"(?:0|o)x([0-9a-f]{1,8})", re.IGNORECASE)
_BARE_HEX = re.compile(r"[0-9a-f]{8}", re.IGNORECASE)
_DECIMAL = re.compile(r"[+-]?[0-9]{1,10}")

_EXPECTED = (
    "expected an error code such as 0xC004F074 (also accepted: C004F074, c004f074, "
    "a decimal exit code such as -1073418124 or 3221549172)"
)


@total_ordering
@dataclass(frozen=True, eq=True)
class ErrorCode:
    """An HRESULT, stored as its unsigned 32-bit value; equal, hashable and sortable by value."""

    unsigned: int

    def __post_init__(self) -> None:
        if isinstance(self.unsigned, bool) or not isinstance(self.unsigned, int):
            raise TypeError("ErrorCode takes an int; use ErrorCode.parse for text")
        if not 0 <= self.unsigned <= _MAX_UNSIGNED:
            raise ValueError(f"ErrorCode value out of the 32-bit range: {self.unsigned}")

    @classmethod
    def parse(cls, text: str | int) -> ErrorCode:
        """Read an error code from any of the spellings users type; raise UsageError otherwise.

        Hex: ``0xC004F074``, ``C004F074`` (exactly eight digits), ``c004f074``, ``OxC004F074`` (letter O),
        full-width (``０ｘＣ００４Ｆ０７４``). Decimal: signed (``-1073418124``) or unsigned (``3221549172``).
        Eight bare decimal digits (``80070005``) read as hex, the way HRESULTs are written: a decimal value
        that short would not be an error code. A leading sign forces decimal.
        """
        if isinstance(text, bool):
            raise UsageError(f"not an error code: {text!r}; {_EXPECTED}")
        if isinstance(text, int):
            return cls._from_int(text, shown=str(text))
        if not isinstance(text, str):
            raise UsageError(f"not an error code: {text!r}; {_EXPECTED}")
        cleaned = unicodedata.normalize("NFKC", text).strip()
        # A Japanese IME may also produce a full-width minus (NFKC maps it to "-") or the U+2212 minus sign.
        cleaned = cleaned.replace("\u2212", "-")
        shown = _shown(text)
        if not cleaned:
            raise UsageError(f"empty error code; {_EXPECTED}")
        match = _PREFIXED_HEX.fullmatch(cleaned)
        if match:
            return cls(int(match.group(1), 16))
        if _BARE_HEX.fullmatch(cleaned):
            return cls(int(cleaned, 16))
        if _DECIMAL.fullmatch(cleaned):
            return cls._from_int(int(cleaned), shown=shown)
        raise UsageError(f"not an error code: {shown}; {_EXPECTED}")

    @classmethod
    def _from_int(cls, value: int, *, shown: str) -> ErrorCode:
        if _MIN_SIGNED <= value < 0:
            return cls(value + 0x1_0000_0000)
        if 0 <= value <= _MAX_UNSIGNED:
            return cls(value)
        raise UsageError(
            f"not an error code: {shown} is outside the 32-bit range "
            f"(-2147483648 to 4294967295); {_EXPECTED}"
        )

    @property
    def text(self) -> str:
        """Canonical form: ``0xC004F074``."""
        return f"0x{self.unsigned:08X}"

    @property
    def signed(self) -> int:
        """The value as a signed 32-bit int: what a process exit code shows (0xC004F074 -> -1073418124)."""
        return self.unsigned - 0x1_0000_0000 if self.unsigned & 0x80000000 else self.unsigned

    @property
    def facility(self) -> int:
        return (self.unsigned >> 16) & 0x7FF

    @property
    def is_failure(self) -> bool:
        """Severity bit set (an error, not a success or information code)."""
        return bool(self.unsigned & 0x80000000)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"ErrorCode({self.text})"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ErrorCode):
            return NotImplemented
        return self.unsigned < other.unsigned


def _shown(text: str) -> str:
    """The user's input, shortened for an error message."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


CODES_FILE = Path(__file__).resolve().parent / "data" / "codes.yaml"


@dataclass(frozen=True)
class Source:
    """A Microsoft page or header that documents codes."""

    key: str
    title: str
    url: str | None


@dataclass(frozen=True)
class Handover:
    """What a human does when no playbook applies, in English and Japanese."""

    key: str
    en: str
    ja: str

    def text(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True)
class CodeInfo:
    """What Microsoft documents about one code, in English and Japanese."""

    code: ErrorCode
    symbol: str | None
    meaning_en: str
    meaning_ja: str
    category: str
    activation_types: tuple[str, ...]
    source: str  # a key of sources(): where the meaning comes from
    articles: tuple[str, ...] = ()  # further Microsoft pages about the code
    # A Windows-wide HRESULT (Win32, DNS, RPC, WinINet, COM, WMI) Microsoft documents for activation: an activation
    # code only where the text around it is about activation; elsewhere it means windows_en / windows_ja.
    generic: bool = False
    windows_en: str | None = None
    windows_ja: str | None = None
    closest: ErrorCode | None = None  # the playbook that comes closest when the code has none of its own
    handover: str = "internal"  # a key of handovers(): what a human does when no playbook applies

    def meaning(self, lang: str) -> str:
        return self.meaning_ja if lang == "ja" else self.meaning_en

    def windows_meaning(self, lang: str) -> str | None:
        return self.windows_ja if lang == "ja" else self.windows_en


@dataclass(frozen=True)
class _Table:
    codes: dict[ErrorCode, CodeInfo]
    sources: dict[str, Source]
    handovers: dict[str, Handover]


@cache
def _table() -> _Table:
    """The table of codes in data/codes.yaml, checked as it is read."""
    loaded = yaml.load(CODES_FILE.read_text("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    sources = {
        str(key): Source(str(key), str(entry["title"]), entry.get("url"))
        for key, entry in loaded["sources"].items()
    }
    handovers = {
        str(key): Handover(str(key), str(entry["en"]), str(entry["ja"])) for key, entry in loaded["handovers"].items()
    }
    by_category: dict[str, str] = loaded["category_handovers"]
    codes: dict[ErrorCode, CodeInfo] = {}
    for key, entry in loaded["codes"].items():
        code = ErrorCode.parse(key)
        windows = entry.get("windows") or {}
        closest = entry.get("closest")
        info = CodeInfo(
            code=code,
            symbol=entry.get("symbol"),
            meaning_en=entry["en"],
            meaning_ja=entry["ja"],
            category=entry["category"],
            activation_types=tuple(entry.get("types", ())),
            source=entry["source"],
            articles=tuple(entry.get("articles", ())),
            generic=bool(entry.get("generic", False)),
            windows_en=windows.get("en"),
            windows_ja=windows.get("ja"),
            closest=ErrorCode.parse(closest) if closest else None,
            handover=entry.get("handover") or by_category[entry["category"]],
        )
        unknown = [name for name in (info.source, *info.articles) if name not in sources]
        if key != code.text or info.category not in CATEGORIES or unknown or info.handover not in handovers:
            raise ValueError(f"{CODES_FILE}: entry {key} is malformed")
        codes[code] = info
    return _Table(codes, sources, handovers)


def known_codes() -> list[CodeInfo]:
    """Every documented code, sorted by value."""
    table = _table().codes
    return [table[code] for code in sorted(table)]


def code_info(code: ErrorCode | str | int) -> CodeInfo | None:
    """What is documented about `code`, or None for a code Microsoft does not document (e.g. 0x8004FE2F)."""
    if not isinstance(code, ErrorCode):
        code = ErrorCode.parse(code)
    return _table().codes.get(code)


def source(key: str) -> Source:
    """The Microsoft page or header a code's `source` or `articles` names."""
    return _table().sources[key]


def handover(key: str) -> Handover:
    """What a human does, by the key a code's `handover` names."""
    return _table().handovers[key]


def nearest_codes(
    code: ErrorCode, candidates: Iterable[ErrorCode] | None = None, n: int = 3
) -> list[ErrorCode]:
    """The candidates a typo of `code` most likely meant, nearest first ("did you mean ...?").

    Distance counts hex digits substituted, and two adjacent digits swapped as one edit; only candidates at
    most two edits away are suggested, and only the nearest of them: a code one edit away hides those two edits
    away. Without candidates, the documented codes are searched.
    """
    pool = list(_table().codes) if candidates is None else list(candidates)
    typed = f"{code.unsigned:08X}"
    scored: list[tuple[int, bool, int, ErrorCode]] = []
    for candidate in set(pool):
        if candidate == code:
            continue
        other = f"{candidate.unsigned:08X}"
        distance = _edit_distance(typed, other)
        if distance <= 2:
            # Among equally near codes, prefer the same digits in another order (the commonest slip), then
            # digits close in value (a neighbouring key on a numeric keypad).
            gap = sum(abs(int(x, 16) - int(y, 16)) for x, y in zip(typed, other, strict=True))
            scored.append((distance, sorted(other) != sorted(typed), gap, candidate))
    scored.sort()
    nearest = [entry for entry in scored if entry[0] == scored[0][0]] if scored else []
    return [candidate for *_, candidate in nearest[:n]]


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: substitutions, insertions, deletions, adjacent swaps."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]
