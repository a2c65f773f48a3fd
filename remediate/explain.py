"""Find activation error codes in pasted text, in any language.

Users paste whatever they have: slmgr output (``Error: 0xC004F074 ...``,
``Notification Reason: 0xC004F034.``), a Japanese Settings message (``エラーコード:0xC004C008``),
an event's text, ospp output, a process exit code (``-1073418124``) or a ``LicenseStatusReason`` read
through CIM (``3221549076``). `find_codes` returns every code once, in order of first appearance.

Text is full of other numbers (GUIDs, CMIDs, extended PIDs, installation IDs, dates, IP addresses,
counters), so only ``0x`` followed by eight hex digits counts without question; a bare eight-hex-digit word
or a ten-digit decimal counts only when it is a documented code or looks like an activation HRESULT (failure
severity with the licensing facility 0xC004xxxx, a Win32 error 0x8007xxxx, or 0x8004FExx).
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from remediate.codes import ErrorCode, code_info

# "0x" or the letter O typed for the zero; exactly eight digits, not glued to other letters or digits.
_PREFIXED = re.compile(r"(?<![0-9A-Za-z])[0Oo][xX]([0-9A-Fa-f]{8})(?![0-9A-Za-z])")
# A bare eight-hex-digit word, not part of a GUID (hyphens) or a dotted or longer token.
_BARE_HEX = re.compile(r"(?<![0-9A-Za-z\-./_])([0-9A-Fa-f]{8})(?![0-9A-Za-z\-_]|[.:/][0-9A-Za-z])")
# A decimal HRESULT: failures need ten digits (>= 2^31) or a minus sign.
_DECIMAL = re.compile(r"(?<![0-9A-Za-z\-./_])(-?[0-9]{10})(?![0-9A-Za-z\-_]|[.:/][0-9])")

_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-"})


def decode_text(data: bytes) -> str:
    """Text saved or piped on Windows, whatever its encoding: UTF-16 (what Windows PowerShell 5.1's ``>``
    writes, with or without BOM), UTF-8 (with or without BOM), or the Japanese ANSI code page (CP932, what
    ``cmd.exe`` redirection writes on Japanese Windows). Undecodable bytes become U+FFFD: codes are ASCII."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    if len(data) >= 2 and data.count(0) * 3 >= len(data):
        # Mostly ASCII text in UTF-16 without a BOM: every other byte is zero.
        even_zeros = data[0::2].count(0)
        return data.decode("utf-16-be" if even_zeros > data[1::2].count(0) else "utf-16-le", errors="replace")
    for encoding in ("utf-8", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def find_codes(text: str) -> list[ErrorCode]:
    """Every activation error code in `text`, in order of first appearance, each once."""
    normalized = unicodedata.normalize("NFKC", text).translate(_MINUS_SIGNS)
    found: list[tuple[int, ErrorCode]] = []
    for match in _PREFIXED.finditer(normalized):
        code = ErrorCode(int(match.group(1), 16))
        if code_info(code) is not None or (code.is_failure and code.unsigned != 0xFFFFFFFF):
            found.append((match.start(), code))
    for match in _BARE_HEX.finditer(normalized):
        code = ErrorCode(int(match.group(1), 16))
        if is_plausible(code):
            found.append((match.start(), code))
    for match in _DECIMAL.finditer(normalized):
        value = int(match.group(1))
        if -0x80000000 <= value <= 0xFFFFFFFF:
            code = ErrorCode.parse(value)
            if is_plausible(code):
                found.append((match.start(), code))
    found.sort(key=lambda item: item[0])
    codes: list[ErrorCode] = []
    for _, code in found:
        if code not in codes:
            codes.append(code)
    return codes


def is_plausible(code: ErrorCode) -> bool:
    """A documented code, or a shape activation errors take: 0xC004xxxx, 0x8007xxxx, 0x8004FExx."""
    if code_info(code) is not None:
        return True
    value = code.unsigned
    return (value >> 16) in (0xC004, 0x8007) or (value >> 8) == 0x8004FE
