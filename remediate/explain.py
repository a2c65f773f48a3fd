"""Find activation error codes in pasted text, in any language, and tell which of them are activation codes.

Users paste whatever they have: slmgr output (``Error: 0xC004F074 ...``, ``Notification Reason: 0xC004F034.``),
a Japanese Settings message (``エラーコード:0xC004C008``), event log entries as Event Viewer, ``Get-WinEvent`` or
``wevtutil`` print them (``hr=0x800704CF``, ``Info:``, ``Error Code:0x80070005``, lines wrapped by a table), ospp
or VAMT output, a process exit code (``-1073418124``), a ``LicenseStatusReason`` read through CIM
(``3221549076``) - and logs of other Windows components that carry the same Win32 HRESULTs. `scan` returns
every code once, in order of first appearance, each classed:

- ``activation``: the licensing family (0xC004xxxx, 0x8004FExx and the other codes of slerror.h) always; a
  Windows-wide HRESULT (DNS, RPC, proxy, access...) when the text around it is about activation - slmgr, slui,
  Security-SPP, KMS, ospp, licence words in the languages Windows ships - or when nothing in the text names
  another component and Microsoft documents the code for activation;
- ``other``: a Windows error of another component (Windows Update, servicing, WSL, device enrollment, disk
  tools...), named when the text names it;
- ``informational``: a 0x4004xxxx success code of the licensing service.

The words that decided come with each finding. Codes typed with a digit too many or too few, or with letters
that look like digits (``0xC004FO74``), are reported as typos with the documented codes they may mean; they are
never corrected silently.

Text is full of other numbers (GUIDs, CMIDs, extended PIDs, installation IDs, dates, IP addresses, counters),
so only ``0x`` followed by eight hex digits counts without question; a bare eight-hex-digit word or a ten-digit
decimal counts only when it is a documented code or looks like an activation HRESULT (failure severity with the
licensing facility 0xC004xxxx, a Win32 error 0x8007xxxx, or 0x8004FExx).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from remediate.codes import ErrorCode, code_info, known_codes, nearest_codes
from remediate.i18n import N_

ACTIVATION = "activation"
OTHER = "other"
INFORMATIONAL = "informational"

# How a finding was classed: by its family, by the nearest words about a component, by Microsoft's activation
# documentation when the text names no component, or as an undocumented code in a text that names none.
FAMILY, CONTEXT, DOCUMENTED, UNNAMED = "family", "context", "documented", "unnamed"

# "0x" or the letter O typed for the zero; exactly eight digits, not glued to other letters or digits.
_PREFIXED = re.compile(r"(?<![0-9A-Za-z])[0Oo][xX]([0-9A-Fa-f]{8})(?![0-9A-Za-z])")
# A bare eight-hex-digit word, not part of a GUID (hyphens) or a dotted or longer token.
_BARE_HEX = re.compile(r"(?<![0-9A-Za-z\-./_])([0-9A-Fa-f]{8})(?![0-9A-Za-z\-_]|[.:/][0-9A-Za-z])")
# A decimal HRESULT: failures need ten digits (>= 2^31) or a minus sign.
_DECIMAL = re.compile(r"(?<![0-9A-Za-z\-./_])(-?[0-9]{10})(?![0-9A-Za-z\-_]|[.:/][0-9])")
# A code a table cut in two: "hr=0xC004F0" at the end of one line, "74" at the start of the next.
_WRAPPED = re.compile(
    r"(?<![0-9A-Za-z])[0Oo][xX]([0-9A-Fa-f]{1,7})[ \t]*\r?\n[ \t|]*([0-9A-Fa-f]{1,7})(?![0-9A-Za-z])"
)
# Code-like words that are not codes: seven to nine characters after 0x, or after C004 with no prefix.
_PREFIXED_WORD = re.compile(r"(?<![0-9A-Za-z])[0Oo][xX]([0-9A-Za-z]{7,9})(?![0-9A-Za-z])")
_BARE_WORD = re.compile(r"(?<![0-9A-Za-z\-./_])([Cc][0-9A-Za-z]{6,8})(?![0-9A-Za-z\-_]|[.:/][0-9A-Za-z])")

_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-"})
# Letters typed for the digits they look like (hex letters A-F stay what they are).
_LOOK_ALIKES = str.maketrans("OoQIilzZSsGTgq", "00011122556799")
_HEX_DIGITS = "0123456789ABCDEF"
# Typos are reported for code-like words that start like the licensing family even when no code matches.
_FAMILY_STARTS = ("C004", "4004", "8004FE", "803F")

DIGIT_MISSING, DIGIT_EXTRA, LOOK_ALIKE = "digit-missing", "digit-extra", "look-alike"


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


# --- what scan returns ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One code found in the text, classed."""

    code: ErrorCode
    kind: str  # ACTIVATION, OTHER or INFORMATIONAL
    component: str | None  # for OTHER: a key of COMPONENTS when the text names the component
    reason: str  # FAMILY, CONTEXT, DOCUMENTED or UNNAMED
    decided_by: tuple[str, ...]  # the words of the text (or the code family) that decided the class


@dataclass(frozen=True)
class Typo:
    """A code-like word that is not a code, and the documented codes it may stand for."""

    typed: str
    problems: tuple[str, ...]  # DIGIT_MISSING, DIGIT_EXTRA, LOOK_ALIKE
    candidates: tuple[ErrorCode, ...]


@dataclass(frozen=True)
class Scan:
    findings: tuple[Finding, ...]
    typos: tuple[Typo, ...]
    office: str | None = None  # the words that show the text is about Office's own activation (ospp.vbs)

    @property
    def codes(self) -> list[ErrorCode]:
        return [finding.code for finding in self.findings]


def scan(text: str) -> Scan:
    """Every code in `text` once, in order of first appearance and classed, and the typos of codes."""
    normalized = unicodedata.normalize("NFKC", text).translate(_MINUS_SIGNS)
    occurrences = _occurrences(normalized)
    cues = _cues(normalized, occurrences)
    scopes = _Scopes(normalized)
    indexes = (_CueIndex([cue for cue in cues if cue.strong], scopes), _CueIndex(cues, scopes))
    best: dict[ErrorCode, tuple[int, int, Finding]] = {}
    for order, occurrence in enumerate(occurrences):
        finding = _classify(occurrence, indexes, scopes)
        rank = _RANKS[(finding.kind, finding.reason)]
        first_order = best[occurrence.code][1] if occurrence.code in best else order
        if occurrence.code not in best or rank < best[occurrence.code][0]:
            best[occurrence.code] = (rank, first_order, finding)
    findings = tuple(finding for _, _, finding in sorted(best.values(), key=lambda entry: entry[1]))
    office = _OFFICE.search(normalized)
    return Scan(findings, tuple(_typos(normalized, occurrences)), office.group(0).strip() if office else None)


# Office activates through its own Software Protection products and script: ospp.vbs prints "LICENSE NAME: Office
# 16, ..." and "LICENSE DESCRIPTION: Office 16, VOLUME_KMSCLIENT channel" (public ospp.vbs outputs, e.g.
# pastebin.com/tXP3x6xp); Office's products carry the application ID 0ff1ce15-a989-479d-af46-f275c6370663.
_OFFICE = re.compile(
    r"ospp\.vbs|OfficeSoftwareProtectionPlatform|0ff1ce15-a989-479d-af46-f275c6370663"
    r"|LICENSE (?:NAME|DESCRIPTION):\s*Office\b|\bOffice\s+1[4-6],\s",
    re.IGNORECASE,
)


def is_plausible(code: ErrorCode) -> bool:
    """A documented code, or a shape activation errors take: 0xC004xxxx, 0x8007xxxx, 0x8004FExx."""
    if code_info(code) is not None:
        return True
    value = code.unsigned
    return (value >> 16) in (0xC004, 0x8007) or (value >> 8) == 0x8004FE


# --- finding codes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Occurrence:
    code: ErrorCode
    start: int
    end: int
    spelled: str


def _occurrences(normalized: str) -> list[_Occurrence]:
    found: list[_Occurrence] = []
    for match in _PREFIXED.finditer(normalized):
        code = ErrorCode(int(match.group(1), 16))
        if code_info(code) is not None or (code.is_failure and code.unsigned != 0xFFFFFFFF):
            found.append(_Occurrence(code, match.start(), match.end(), match.group()))
    for match in _WRAPPED.finditer(normalized):
        digits = match.group(1) + match.group(2)
        if len(digits) == 8:
            code = ErrorCode(int(digits, 16))
            if code.is_failure or code_info(code) is not None:
                found.append(_Occurrence(code, match.start(), match.end(), match.group()))
    for match in _BARE_HEX.finditer(normalized):
        code = ErrorCode(int(match.group(1), 16))
        if is_plausible(code):
            found.append(_Occurrence(code, match.start(), match.end(), match.group()))
    for match in _DECIMAL.finditer(normalized):
        value = int(match.group(1))
        if -0x80000000 <= value <= 0xFFFFFFFF:
            code = ErrorCode.parse(value)
            if is_plausible(code):
                found.append(_Occurrence(code, match.start(), match.end(), match.group()))
    found.sort(key=lambda occurrence: occurrence.start)
    return found


# --- classing by context ----------------------------------------------------------------------------------

# Display names of the components `other` findings name.
COMPONENTS: dict[str, str] = {  # component -> its name (a gettext message: _() to show it)
    "windows-update": N_("Windows Update"),
    "servicing": N_("Windows servicing (CBS/DISM)"),
    "wsl": N_("WSL (Windows Subsystem for Linux)"),
    "enrollment": N_("device enrollment (MDM/Intune)"),
    "disk": N_("disk tools (DiskPart/VDS)"),
    "store": N_("Microsoft Store and app deployment"),
    "installer": N_("Windows Installer"),
    "dcom": N_("DCOM"),
    "sxs": N_("side-by-side assemblies (SxS)"),
}

_WORD_END = r"(?!\w)"  # where a word must also start a word, _cues checks it: a lookbehind here is slow


def _words(*patterns: str) -> str:
    return "|".join(patterns)


# Words about activation. Strong ones name the licensing tools, services, logs and keys; weak ones are the
# words for activation, licence and product key in the languages Windows ships, which other texts use too.
_ACTIVATION_STRONG = _words(
    r"slmgr(?:\.vbs)?", r"slui(?:\.exe)?", r"ospp(?:\.vbs)?", r"Security-SPP", r"Security-Licensing-SLC",
    r"sppsvc", r"SoftwareProtectionPlatform", r"Software Protection", r"Software Licensing",
    r"SoftwareLicensing(?:Product|Service)", r"LicenseStatus(?:Reason)?", r"Notification Reason",
    rf"KMS{_WORD_END}", r"Key Management Service", r"_?VLMCS", r"GVLK", r"Multiple Activation Key", r"VAMT",
    r"Volume Activation", r"VL activation", r"Active Directory-based activation",
    rf"ADBA{_WORD_END}", r"token-based activation", rf"AVMA{_WORD_END}",
    r"ProductActivationResult", r"genuine ticket", r"GenuineTicket", r"tokens\.dat", r"\.xrm-ms", r"rules engine",
    r"product key", r"digital licen[cs]e", r"Windows activation", r"License Activation", r"Activation ID",
    r"ClipSVC",
    # de, fr, es, pt, it, ru, pl: the licensing service and KMS in Microsoft's translations
    r"Softwarelizenzierungsdienst", r"Schlüsselverwaltungsdienst", r"Softwareschutzdienst",
    r"gestion des licences", r"licences logicielles", r"gestion de clés", r"licencias de software",
    r"administración de claves", r"Licenciamento de Software", r"licenze software", r"gestione delle chiavi",
    r"Служба лицензирования", r"управления ключами", r"licencjonowania oprogramowania", r"zarządzania kluczami",
    # ja, zh, ko
    r"ソフトウェア ?ライセンス ?サービス", r"ソフトウェア保護サービス", r"キー管理サービス", r"ライセンス認証",
    r"プロダクト ?キー", r"软件授权服务", r"密钥管理服务", r"产品密钥", r"軟體授權服務", r"金鑰管理服務", r"產品金鑰",
    r"소프트웨어 라이선스 서비스", r"키 관리 서비스", r"제품 키", r"정품 인증",
)
_ACTIVATION_WEAK = _words(
    r"(?:activat|aktivier|attivazion|attivar|aktywacj|aktywow|aktivac|aktivov|aktiváci|aktivira"
    r"|aktivál|aktiver|aktivoi|aktiveeri|aktivizē|aktivizācij|aktyvin|etkinleştir|activaci|activar|activer"
    r"|ativaç|ativar|активац|активир|активува)\w*",
    r"(?:licen[cst]|licenç|lizenz|lisans|lisens|litsents|лиценз|ліценз)\w*",
    rf"genuine{_WORD_END}", r"Produktschlüssel", r"clé de produit", r"clave de producto",
    r"chave d[eo] produto", r"productsleutel", r"productcode", r"produktnyckel", r"produktnøgle", r"produktnøkkel",
    r"tuoteavain", r"termékkulcs", r"klucz\w* produktu", r"ürün anahtar\w*", r"ключ\w* продукт\w*",
    r"продуктов ключ", r"ενεργοποίηση", r"κλειδί προϊόντος", r"הפעלה", r"רישיון", r"מפתח מוצר", r"تنشيط",
    r"ترخيص", r"مفتاح المنتج", r"เปิดใช้งาน", r"คีย์ผลิตภัณฑ์", r"ライセンス", r"正規品", r"アクティベーション", r"激活",
    r"许可证", r"授权", r"正版", r"啟用", r"授權", r"라이선스", r"라이센스", r"정품",
)
# Words naming other components. Longer phrases win over shorter ones they contain, so "activation context"
# (side-by-side) and "Local Activation" (DCOM) are not read as activation words.
_COMPONENT_STRONG = {
    "windows-update": _words(
        r"Windows ?Update\w*", r"wuauserv", r"wuauclt", r"UsoClient", r"Update Orchestrator", r"SoftwareDistribution",
        rf"WSUS{_WORD_END}", r"Installation Failure", r"failed to install the following update",
        r"Cumulative Update", r"DownloadManager", rf"wusa(?:\.exe)?{_WORD_END}", r"WU service",
    ),
    "servicing": _words(
        rf"CBS{_WORD_END}", r"Component Based Servicing", r"CbsPersist", rf"CSI{_WORD_END}",
        r"TrustedInstaller", rf"DISM{_WORD_END}", r"Deployment Image Servicing",
        rf"sfc(?:\.exe)?{_WORD_END}", r"/scannow", r"Windows Modules Installer", r"WinSxS",
        r"component store", r"RestoreHealth", r"checksur", r"Package_for_KB",
    ),
    "wsl": _words(
        rf"WSL(?:\.exe)?{_WORD_END}", r"Windows Subsystem for Linux", r"Wsl/",
        r"lxss\w*",
    ),
    "enrollment": _words(
        rf"MDM{_WORD_END}", rf"enrol(?:l|lment|led|ling|ment)?{_WORD_END}", r"Intune",
        r"DeviceManagement-Enterprise-Diagnostics", r"Autopilot", r"dsregcmd", r"Azure AD join", r"Workplace Join",
        r"RegisterDeviceWithManagement", r"deviceenroller", r"Company Portal",
    ),
    "disk": _words(
        r"diskpart", r"Virtual Disk Service", rf"VDS{_WORD_END}", r"chkdsk", r"Disk Management",
        r"vssadmin", r"Volume Shadow Copy", rf"VSS{_WORD_END}", r"BitLocker", r"manage-bde",
        r"Initialize-Disk", r"New-Partition", r"Format-Volume",
    ),
    "store": _words(
        r"Microsoft Store", rf"winget{_WORD_END}", r"AppX\w*", r"\.msix\w*",
        r"Deployment Add operation", r"DesktopAppInstaller",
    ),
    "installer": _words(r"msiexec", r"Windows Installer"),
    "dcom": _words(
        r"DistributedCOM", rf"DCOM{_WORD_END}", r"Local Activation", r"launch and activation",
        r"activation permission", r"application-specific permission",
    ),
    "sxs": _words(r"activation context", r"SideBySide", r"sxstrace"),
}
_COMPONENT_WEAK = {
    "windows-update": _words(
        rf"KB\d{{6,7}}{_WORD_END}", rf"updates?{_WORD_END}", r"更新プログラム"
    ),
}


# Words whose case matters: MAK (not the word "mak" of other languages) and WSL's API names (WslLaunch...).
_CASE_SENSITIVE = {
    (ACTIVATION, True): rf"MAK{_WORD_END}",
    ("wsl", True): r"Wsl[A-Z]\w+",
}


def _compile(patterns: dict[tuple[str, bool], str], *, lowered: bool) -> list[tuple[str, bool, re.Pattern[str]]]:
    # Matching lower-case words in lower-cased text lets the regex engine skip ahead on the words' first letters;
    # IGNORECASE would test every alternative at every position. The patterns use only lower-case escapes.
    return [
        (subject, strong, re.compile(pattern.lower() if lowered else pattern))
        for (subject, strong), pattern in patterns.items()
    ]


_CUE_PATTERNS = _compile(
    {
        (ACTIVATION, True): _ACTIVATION_STRONG,
        (ACTIVATION, False): _ACTIVATION_WEAK,
        **{(component, True): pattern for component, pattern in _COMPONENT_STRONG.items()},
        **{(component, False): pattern for component, pattern in _COMPONENT_WEAK.items()},
    },
    lowered=True,
)
_CASE_SENSITIVE_PATTERNS = _compile(_CASE_SENSITIVE, lowered=False)


_SPACED_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "HEBREW", "ARABIC", "HANGUL")


def _starts_a_word(text: str, start: int) -> bool:
    """In scripts that separate words with spaces, a cue word must not begin inside another word
    ("mak" in "Dimak", "update" in "wuupdate"); Japanese, Chinese and Thai have no such boundaries."""
    if start == 0 or not text[start - 1].isalnum():
        return True
    first = text[start]
    return not (first.isalpha() and unicodedata.name(first, "").startswith(_SPACED_SCRIPTS))


def _lowered(text: str) -> str:
    """`text` in lower case, each character where it was (the few that lower-case to two stay as they are)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(char.lower() if len(char.lower()) == 1 else char for char in text)


@dataclass(frozen=True)
class _Cue:
    start: int
    end: int
    subject: str  # ACTIVATION or a key of COMPONENTS
    strong: bool
    word: str


def _cues(normalized: str, occurrences: Iterable[_Occurrence]) -> list[_Cue]:
    """The words about activation or another component, longest first where they overlap; codes of the
    licensing family count as words about activation."""
    lowered = _lowered(normalized)
    searches = [(pattern, lowered, subject, strong) for subject, strong, pattern in _CUE_PATTERNS]
    searches += [(pattern, normalized, subject, strong) for subject, strong, pattern in _CASE_SENSITIVE_PATTERNS]
    matches = [
        _Cue(match.start(), match.end(), subject, strong, normalized[match.start():match.end()])
        for pattern, text, subject, strong in searches
        for match in pattern.finditer(text)
        if _starts_a_word(normalized, match.start())
    ]
    matches += [
        _Cue(o.start, o.end, ACTIVATION, True, o.code.text) for o in occurrences if _licensing_family(o.code)
    ]
    kept: list[_Cue] = []
    for cue in sorted(matches, key=lambda cue: (cue.start, cue.start - cue.end)):
        if kept and cue.start < kept[-1].end:
            if cue.end - cue.start > kept[-1].end - kept[-1].start:
                kept[-1] = cue
            continue
        kept.append(cue)
    return kept


class _Scopes:
    """Lines and entries of the text: an entry ends at a blank line or where an event record starts."""

    _ENTRY_START = re.compile(r"^[ \t>-]*(?:Log Name:|Event\[\d+\]|<Event[\s>]|TimeCreated\s*:)", re.MULTILINE)

    def __init__(self, text: str) -> None:
        self.line_starts = [0] + [match.end() for match in re.finditer(r"\n", text)]
        breaks = {match.start() for match in re.finditer(r"\n[ \t]*\r?\n", text)}
        breaks |= {match.start() for match in self._ENTRY_START.finditer(text)}
        self.entry_starts = sorted({0, *breaks})

    def line(self, position: int) -> int:
        return bisect_right(self.line_starts, position) - 1

    def entry(self, position: int) -> int:
        return bisect_right(self.entry_starts, position) - 1


def _licensing_family(code: ErrorCode) -> bool:
    """A code of the licensing service itself: an activation code wherever it appears."""
    info = code_info(code)
    if info is not None:
        return not info.generic
    value = code.unsigned
    return (value >> 16) in (0xC004, 0x4004) or (value >> 8) == 0x8004FE


def _family_label(code: ErrorCode) -> str:
    value = code.unsigned
    if (value >> 16) in (0xC004, 0x4004):
        return f"0x{value >> 16:04X}xxxx"
    if (value >> 8) == 0x8004FE:
        return "0x8004FExx"
    return code.text  # a documented licensing code outside those families (slerror.h, Microsoft's pages)


def _classify(occurrence: _Occurrence, indexes: tuple[_CueIndex, _CueIndex], scopes: _Scopes) -> Finding:
    code = occurrence.code
    if (code.unsigned >> 16) == 0x4004:
        return Finding(code, INFORMATIONAL, None, FAMILY, (_family_label(code),))
    if _licensing_family(code):
        return Finding(code, ACTIVATION, None, FAMILY, (_family_label(code),))
    cue = _deciding_cue(occurrence, indexes, scopes)
    if cue is not None:
        if cue.subject == ACTIVATION:
            return Finding(code, ACTIVATION, None, CONTEXT, (cue.word,))
        return Finding(code, OTHER, cue.subject, CONTEXT, (cue.word,))
    if code_info(code) is not None:
        return Finding(code, ACTIVATION, None, DOCUMENTED, ())
    return Finding(code, OTHER, None, UNNAMED, ())


class _CueIndex:
    """The cues in text order with their lines and entries, to find the nearest one of a scope by bisection."""

    def __init__(self, cues: list[_Cue], scopes: _Scopes) -> None:
        self.cues = cues
        self.starts = [cue.start for cue in cues]
        self.lines = [scopes.line(cue.start) for cue in cues]
        self.entries = [scopes.entry(cue.start) for cue in cues]

    def nearest(self, occurrence: _Occurrence, scope: list[int] | None, key: int) -> _Cue | None:
        """The cue nearest to `occurrence` among those whose `scope` value is `key` (all cues without a scope)."""
        low, high = (bisect_left(scope, key), bisect_right(scope, key)) if scope is not None else (0, len(self.cues))
        middle = bisect_left(self.starts, occurrence.start, low, high)
        candidates = []
        for step, first, stop in ((-1, middle - 1, low - 1), (1, middle, high)):
            for index in range(first, stop, step):
                cue = self.cues[index]
                if (cue.start, cue.end) != (occurrence.start, occurrence.end):  # a family code is its own cue
                    candidates.append(cue)
                    break
        return min(candidates, key=lambda cue: _distance(cue, occurrence)) if candidates else None


def _deciding_cue(occurrence: _Occurrence, indexes: tuple[_CueIndex, _CueIndex], scopes: _Scopes) -> _Cue | None:
    """The nearest word in the code's line, else in its entry, else anywhere; strong words before weak ones."""
    line, entry = scopes.line(occurrence.start), scopes.entry(occurrence.start)
    for scope in ("line", "entry", "text"):
        for index in indexes:  # the strong words first, then all words
            if scope == "line":
                cue = index.nearest(occurrence, index.lines, line)
            elif scope == "entry":
                cue = index.nearest(occurrence, index.entries, entry)
            else:
                cue = index.nearest(occurrence, None, 0)
            if cue is not None:
                return cue
    return None


def _distance(cue: _Cue, occurrence: _Occurrence) -> int:
    if cue.end <= occurrence.start:
        return occurrence.start - cue.end
    return max(cue.start - occurrence.end, 0)


# Which occurrence of a code speaks for it: an activation reading from the code's family or its context first,
# then another component named, then Microsoft's documentation alone.
_RANKS = {
    (ACTIVATION, FAMILY): 0,
    (INFORMATIONAL, FAMILY): 0,
    (ACTIVATION, CONTEXT): 0,
    (OTHER, CONTEXT): 1,
    (ACTIVATION, DOCUMENTED): 2,
    (OTHER, UNNAMED): 3,
}


# --- typos ------------------------------------------------------------------------------------------------


def _typos(normalized: str, occurrences: list[_Occurrence]) -> list[Typo]:
    starts = [o.start for o in occurrences]  # in text order; occurrences of different codes never overlap
    typos: dict[str, Typo] = {}
    words = [(match, True) for match in _PREFIXED_WORD.finditer(normalized)]
    words += [(match, False) for match in _BARE_WORD.finditer(normalized)]
    for match, prefixed in sorted(words, key=lambda entry: entry[0].start()):
        before = bisect_right(starts, match.end()) - 1  # the last occurrence starting before the word ends
        if before >= 0 and occurrences[before].end > match.start():
            continue  # part of a code found (the first half of a code a table cut in two)
        if match.group().upper() in typos:
            continue
        typo = _typo(match.group(), match.group(1), prefixed)
        if typo is not None:
            typos[typo.typed.upper()] = typo
    return list(typos.values())


def _typo(word: str, body: str, prefixed: bool) -> Typo | None:
    digits = body.translate(_LOOK_ALIKES).upper()
    if any(digit not in _HEX_DIGITS for digit in digits) or not 7 <= len(digits) <= 9:
        return None
    if not prefixed and not digits.startswith("C004"):
        return None
    problems = []
    if len(digits) == 7:
        problems.append(DIGIT_MISSING)
    if len(digits) == 9:
        problems.append(DIGIT_EXTRA)
    if digits != body.upper():
        problems.append(LOOK_ALIKE)
    if not problems:
        return None  # eight plain hex digits: a code, found (or not) as such
    candidates = _candidates(digits)
    if not candidates and not digits.startswith(_FAMILY_STARTS):
        return None  # not a code anyone meant: a word that happens to look like hex
    return Typo(word, tuple(problems), tuple(candidates))


def _candidates(digits: str) -> list[ErrorCode]:
    """The documented codes a code-like word may stand for: one digit removed or added, or the word itself."""
    documented = _documented()
    if len(digits) == 9:
        spellings = {digits[:index] + digits[index + 1:] for index in range(9)}
    elif len(digits) == 7:
        spellings = {digits[:index] + digit + digits[index:] for index in range(8) for digit in _HEX_DIGITS}
    else:
        code = ErrorCode(int(digits, 16))
        return [code] if code in documented else nearest_codes(code)
    found = [code for code in (ErrorCode(int(spelling, 16)) for spelling in spellings) if code in documented]
    return sorted(found, key=lambda code: (not _well_known(code), code))


@cache
def _documented() -> frozenset[ErrorCode]:
    return frozenset(info.code for info in known_codes())


def _well_known(code: ErrorCode) -> bool:
    """A code of Microsoft's troubleshooting table or with an article of its own: the likelier thing meant."""
    info = code_info(code)
    return info is not None and (info.source != "SLERR-H" or bool(info.articles))
