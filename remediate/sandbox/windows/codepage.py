"""The console code page a host's native programs write in.

ref §2c: captured bytes follow the OEM code page.
"""

from __future__ import annotations

from remediate.sandbox.windows.state import HostState

# ref §2c: [inf] Japanese Windows uses OEM code page 932; en-US Windows uses the US OEM code page 437.
_CODEPAGES = {"ja-jp": 932, "en-us": 437}


def console_codepage(state: HostState) -> int:
    return _CODEPAGES.get(state.ui_language.lower(), 437)


def encode_console(state: HostState, text: str) -> bytes:
    """Text as the console writes it: CRLF line ends, characters outside the code page become '?'."""
    normalized = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return normalized.encode(f"cp{console_codepage(state)}", errors="replace")


def encode_text(text: str, codepage: int) -> bytes:
    """Text in a console code page as is (the writer chose its line ends); 65001 is UTF-8."""
    encoding = "utf-8" if codepage == 65001 else f"cp{codepage}"
    try:
        return text.encode(encoding, errors="replace")
    except LookupError:
        return text.encode(f"cp{console_codepage_default()}", errors="replace")


def console_codepage_default() -> int:
    return 437


def decode_console(state: HostState, data: bytes) -> str:
    return data.decode(f"cp{console_codepage(state)}", errors="replace")
