"""ErrorCode, the HRESULT of an activation error, and the table of codes Microsoft documents.

An ErrorCode is always shown in canonical form, ``0xC004F074``: ``0x`` then eight upper-case hex digits.
Users meet the same code in many spellings (slmgr text, Settings dialogs typed through a Japanese IME,
decimal process exit codes, ``LicenseStatusReason`` read through CIM); `ErrorCode.parse` accepts them all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering

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


@dataclass(frozen=True)
class CodeInfo:
    """What Microsoft documents about one code, in English and Japanese."""

    code: ErrorCode
    symbol: str | None
    meaning_en: str
    meaning_ja: str
    category: str
    activation_types: tuple[str, ...]
    source: str


_MAK = "MAK"
_KMS = "KMS"
_CLIENT = "KMS client"
_HOST = "KMS host"

# (code, SDK symbol, English meaning, Japanese meaning, category, activation types, source)
# Sources are the short names of the activation reference: TSHOOT/RESOLVE (Microsoft's table of 30 codes,
# Japanese wording after its official translation), SLERR-H (the SDK header), SLERR-XML, SLMGR, WIN32.
_TABLE: tuple[tuple[int, str | None, str, str, str, tuple[str, ...], str], ...] = (
    # --- §1a: the 30 codes of Microsoft's troubleshooting table -------------------------------------------
    (0x8004FE21, None,
     "This computer is not running genuine Windows.",
     "このコンピューターでは正規品の Windows が実行されていません。",
     "genuine", (_MAK, _CLIENT), "TSHOOT"),
    (0x80070005, "E_ACCESSDENIED",
     "Access denied: the requested action requires elevated privileges.",
     "アクセスが拒否されました。要求された操作には管理者特権が必要です。",
     "access", (_MAK, _CLIENT, _HOST), "TSHOOT"),
    (0x8007007B, None,
     "DNS name does not exist: the KMS client cannot find the KMS SRV records in DNS.",
     "DNS 名が存在しません。KMS クライアントが DNS で KMS の SRV レコードを見つけられません。",
     "dns", (_CLIENT,), "TSHOOT"),
    (0x80070490, None,
     "The product key you entered didn't work. Check the product key and try again.",
     "入力したプロダクト キーは使用できませんでした。プロダクト キーを確認してもう一度やり直してください。",
     "key", (_MAK,), "TSHOOT"),
    (0x800706BA, None,
     "The RPC server is unavailable.",
     "RPC サーバーを利用できません。",
     "network", (_CLIENT,), "TSHOOT"),
    (0x8007232A, None,
     "DNS server failure.",
     "DNS サーバーでエラーが発生しました。",
     "dns", (_HOST,), "TSHOOT"),
    (0x8007232B, None,
     "DNS name does not exist: the KMS client cannot find the KMS SRV records in DNS.",
     "DNS 名が存在しません。KMS クライアントが DNS で KMS の SRV レコードを見つけられません。",
     "dns", (_CLIENT,), "TSHOOT"),
    (0x8007251D, None,
     "No records found for the DNS query.",
     "DNS クエリに対応するレコードが見つかりません。",
     "dns", (_CLIENT,), "TSHOOT"),
    (0x80092328, None,
     "DNS name does not exist.",
     "DNS 名が存在しません。",
     "dns", (_CLIENT,), "TSHOOT"),
    (0xC004B100, None,
     "The activation server determined that the computer could not be activated.",
     "ライセンス認証サーバーが、このコンピューターはライセンス認証できないと判断しました。",
     "key", (_MAK,), "TSHOOT"),
    (0xC004C001, None,
     "The activation server determined that the specified product key is invalid.",
     "ライセンス認証サーバーが、指定されたプロダクト キーは無効であると判断しました。",
     "key", (_MAK,), "TSHOOT"),
    (0xC004C003, "SL_E_CHPA_PRODUCT_KEY_BLOCKED",
     "The activation server determined that the specified product key is blocked.",
     "ライセンス認証サーバーが、指定されたプロダクト キーはブロックされていると判断しました。",
     "key", (_MAK,), "TSHOOT"),
    (0xC004C008, "SL_E_CHPA_MAXIMUM_UNLOCK_EXCEEDED",
     "The activation server determined that the specified product key could not be used "
     "(the key has exceeded its activation limit).",
     "ライセンス認証サーバーが、指定されたプロダクト キーは使用できないと判断しました"
     "(キーのライセンス認証回数が上限を超えています)。",
     "count", (_KMS,), "TSHOOT"),
    (0xC004C020, "SL_E_CHPA_DMAK_LIMIT_EXCEEDED",
     "The activation server reported that the Multiple Activation Key has exceeded its limit.",
     "ライセンス認証サーバーから、マルチ ライセンス認証キー (MAK) の"
     "ライセンス認証回数が上限を超えたと報告されました。",
     "count", (_MAK,), "TSHOOT"),
    (0xC004C021, None,
     "The activation server reported that the Multiple Activation Key extension limit has been exceeded.",
     "ライセンス認証サーバーから、マルチ ライセンス認証キー (MAK) の追加認証の上限を超えたと報告されました。",
     "count", (_MAK,), "TSHOOT"),
    (0xC004F009, "SL_E_GRACE_TIME_EXPIRED",
     "The Software Protection Service reported that the grace period expired.",
     "ソフトウェア保護サービスから、猶予期間が終了したと報告されました。",
     "other", (_MAK,), "TSHOOT"),
    (0xC004F00F, "SL_E_OUT_OF_TOLERANCE",
     "The Software Licensing Server reported that the hardware ID binding is beyond the level of tolerance.",
     "ソフトウェア ライセンス サーバーから、ハードウェア ID のバインドが"
     "許容範囲を超えていると報告されました。",
     "other", (_MAK, _CLIENT, _HOST), "TSHOOT"),
    (0xC004F014, "SL_E_PKEY_NOT_INSTALLED",
     "The Software Protection Service reported that the product key is not available.",
     "ソフトウェア保護サービスから、プロダクト キーがインストールされていないと報告されました。",
     "key", (_MAK, _CLIENT), "TSHOOT"),
    (0xC004F02C, "SL_E_CIDIID_INVALID_DATA",
     "The Software Protection Service reported that the format for the offline activation data is incorrect.",
     "ソフトウェア保護サービスから、オフライン ライセンス認証データの形式が正しくないと報告されました。",
     "other", (_MAK, _CLIENT), "TSHOOT"),
    (0xC004F035, "SL_E_VL_NOT_WINDOWS_SLP",
     "The computer could not be activated with a Volume license product key (invalid Volume License Key).",
     "ボリューム ライセンスのプロダクト キーではこのコンピューターをライセンス認証できません"
     "(無効なボリューム ライセンス キー)。",
     "key", (_CLIENT, _HOST), "TSHOOT"),
    (0xC004F038, "SL_E_VL_NOT_ENOUGH_COUNT",
     "The computer could not be activated: the count reported by the Key Management Service (KMS) "
     "is insufficient.",
     "コンピューターをライセンス認証できませんでした。"
     "キー管理サービス (KMS) から報告されたカウントが不足しています。",
     "count", (_CLIENT,), "TSHOOT"),
    (0xC004F039, "SL_E_VL_BINDING_SERVICE_NOT_ENABLED",
     "The computer could not be activated: the Key Management Service (KMS) is not enabled.",
     "コンピューターをライセンス認証できませんでした。キー管理サービス (KMS) が有効になっていません。",
     "kms", (_CLIENT,), "TSHOOT"),
    (0xC004F041, "SL_E_VL_KEY_MANAGEMENT_SERVICE_NOT_ACTIVATED",
     "The Software Protection Service determined that the Key Management Service (KMS) host "
     "is not activated.",
     "ソフトウェア保護サービスが、キー管理サービス (KMS) ホストがライセンス認証されていないと判断しました。",
     "kms", (_CLIENT,), "TSHOOT"),
    (0xC004F042, "SL_E_VL_KEY_MANAGEMENT_SERVICE_ID_MISMATCH",
     "The Software Protection Service determined that the specified Key Management Service (KMS) "
     "cannot be used.",
     "ソフトウェア保護サービスが、指定されたキー管理サービス (KMS) は使用できないと判断しました。",
     "kms", (_CLIENT,), "TSHOOT"),
    (0xC004F050, "SL_E_INVALID_PRODUCT_KEY",
     "The Software Protection Service reported that the product key is invalid.",
     "ソフトウェア保護サービスから、プロダクト キーが無効であると報告されました。",
     "key", (_MAK, _KMS, _CLIENT), "TSHOOT"),
    (0xC004F051, "SL_E_BLOCKED_PRODUCT_KEY",
     "The Software Protection Service reported that the product key is blocked.",
     "ソフトウェア保護サービスから、プロダクト キーがブロックされていると報告されました。",
     "key", (_MAK, _KMS), "TSHOOT"),
    (0xC004F064, "SL_E_NONGENUINE_GRACE_TIME_EXPIRED",
     "The Software Protection Service reported that the non-genuine grace period expired.",
     "ソフトウェア保護サービスから、非正規版の猶予期間が終了したと報告されました。",
     "genuine", (_MAK,), "TSHOOT"),
    (0xC004F065, None,
     "The Software Protection Service reported that the application is running within the valid "
     "non-genuine grace period.",
     "ソフトウェア保護サービスから、非正規版の猶予期間内で実行されていると報告されました。",
     "genuine", (_MAK, _CLIENT), "TSHOOT"),
    (0xC004F06C, "SL_E_VL_INVALID_TIMESTAMP",
     "The computer could not be activated: the Key Management Service (KMS) determined that the request "
     "timestamp is invalid.",
     "コンピューターをライセンス認証できませんでした。"
     "キー管理サービス (KMS) が、要求のタイムスタンプが無効であると判断しました。",
     "clock", (_CLIENT,), "TSHOOT"),
    (0xC004F074, "SL_E_VL_BINDING_SERVICE_UNAVAILABLE",
     "The computer could not be activated: no Key Management Service (KMS) could be contacted.",
     "コンピューターをライセンス認証できませんでした。キー管理サービス (KMS) に接続できませんでした。",
     "kms", (_CLIENT,), "TSHOOT"),
    # --- §1b: other codes this toolkit meets ---------------------------------------------------------------
    (0x4004F065, "SL_I_NONGENUINE_GRACE_PERIOD",
     "The application is running within the valid non-genuine grace period (informational severity of "
     "0xC004F065).",
     "非正規版の猶予期間内で実行されています (0xC004F065 の情報レベルの表記)。",
     "genuine", (_MAK, _CLIENT), "SLERR-H"),
    (0xC004F213, "SL_E_NO_PRODUCT_KEY_FOUND",
     "No product key was found on the system.",
     "デバイスにプロダクト キーが見つからなかったことが Windows によって報告されました。",
     "key", (), "SLERR-H"),
    (0xC004F211, "SL_E_HWID_CHANGED",
     "The hardware of the device may have changed.",
     "デバイスのハードウェアが変更された可能性があります。",
     "other", (), "SLERR-H"),
    (0xC004F212, "SL_E_OEM_KEY_EDITION_MISMATCH",
     "The OEM product key is for a different edition than the one installed.",
     "OEM プロダクト キーのエディションが、インストールされているエディションと一致しません。",
     "edition", (), "SLERR-H"),
    (0xC004F210, "SL_E_EDITION_MISMATCHED",
     "The product key does not match the installed edition.",
     "プロダクト キーとインストールされているエディションが一致しません。",
     "edition", (), "SLERR-H"),
    (0xC004F034, "SL_E_EUL_NOT_AVAILABLE",
     "The license could not be found or was invalid.",
     "ライセンスが見つからないか、無効です。",
     "key", (), "SLERR-H"),
    (0xC004F069, "SL_E_MISMATCHED_PRODUCT_SKU",
     "The product SKU was not found (for example a key for a non-evaluation edition installed on an "
     "evaluation edition).",
     "製品の SKU が見つかりません (評価版のエディションに製品版のキーを入力した場合など)。",
     "edition", (), "SLERR-H"),
    (0x80072EE2, None,
     "The connection to the Microsoft activation servers timed out (ERROR_INTERNET_TIMEOUT).",
     "Microsoft のライセンス認証サーバーへの接続がタイムアウトしました (ERROR_INTERNET_TIMEOUT)。",
     "network", (), "WIN32"),
    (0xC004F056, "SL_E_VL_MACHINE_NOT_BOUND",
     "The computer could not be activated using the Key Management Service (KMS).",
     "キー管理サービス (KMS) を使用してコンピューターをライセンス認証できませんでした。",
     "kms", (), "SLERR-H"),
    (0xC004F015, None,
     "The license is not installed.",
     "ライセンスがインストールされていません。",
     "other", (), "SLERR-XML"),
    (0xC004F017, None,
     "The license is not installed.",
     "ライセンスがインストールされていません。",
     "other", (), "SLERR-XML"),
    (0xC004F025, "SL_E_LUA_ACCESSDENIED",
     "Access denied: the requested action requires administrator privileges.",
     "アクセスが拒否されました。要求された操作には管理者特権が必要です。",
     "access", (), "SLERR-H"),
    (0xC004F06B, "SL_E_VL_KEY_MANAGEMENT_SERVICE_VM_NOT_SUPPORTED",
     "The Key Management Service (KMS) host is running in a virtual machine, which is not supported.",
     "キー管理サービス (KMS) ホストが仮想マシン上で実行されていますが、これはサポートされていません。",
     "kms", (), "SLERR-H"),
    (0xC004E016, "SL_E_PKEY_INVALID_CONFIG",
     "The product key is invalid for this edition.",
     "このエディションではプロダクト キーが無効です。",
     "key", (), "SLERR-H"),
    (0xC004E028, "SL_E_ACTIVATION_IN_PROGRESS",
     "Another activation attempt is in progress; try again later.",
     "別のライセンス認証が実行中です。しばらくしてからもう一度実行してください。",
     "other", (), "SLERR-H"),
    (0xC004D302, None,
     "The trusted data store was rearmed; restart the computer.",
     "信頼されたストアがリセット (rearm) されました。コンピューターを再起動してください。",
     "other", (), "SLERR-XML"),
    (0xC004D307, None,
     "The maximum allowed number of rearms has been exceeded; the operating system must be reinstalled.",
     "リセット (rearm) の回数が上限を超えました。オペレーティング システムの再インストールが必要です。",
     "other", (), "SLERR-XML"),
    (0xC004C032, None,
     "New time-based activation is not available.",
     "新しい期間ベースのライセンス認証は利用できません。",
     "other", (), "SLERR-XML"),
    (0xC004FC03, "E_RM_UNKNOWN_ERROR",
     "A networking problem has occurred while activating.",
     "ライセンス認証中にネットワークの問題が発生しました。",
     "network", (), "SLERR-H"),
    (0x80041002, "WBEM_E_NOT_FOUND",
     "WMI reported that the object was not found (slmgr or WMI is broken).",
     "WMI からオブジェクトが見つからないと報告されました (slmgr または WMI が正常に動作していません)。",
     "other", (), "WIN32"),
    (0x80080005, "CO_E_SERVER_EXEC_FAILURE",
     "Server execution failed (COM/WMI host failure).",
     "サーバーの実行に失敗しました (COM/WMI のホストの障害)。",
     "other", (), "WIN32"),
)

_KNOWN: dict[ErrorCode, CodeInfo] = {
    ErrorCode(value): CodeInfo(ErrorCode(value), symbol, en, ja, category, types, source)
    for value, symbol, en, ja, category, types, source in _TABLE
}


def known_codes() -> list[CodeInfo]:
    """Every documented code, sorted by value."""
    return [_KNOWN[code] for code in sorted(_KNOWN)]


def code_info(code: ErrorCode | str | int) -> CodeInfo | None:
    """What is documented about `code`, or None for a code Microsoft does not document (e.g. 0x8004FE2F)."""
    if not isinstance(code, ErrorCode):
        code = ErrorCode.parse(code)
    return _KNOWN.get(code)


def nearest_codes(
    code: ErrorCode, candidates: Iterable[ErrorCode] | None = None, n: int = 3
) -> list[ErrorCode]:
    """The candidates a typo of `code` most likely meant, nearest first ("did you mean ...?").

    Distance counts hex digits substituted, and two adjacent digits swapped as one edit; only candidates at
    most two edits away are suggested. Without candidates, the documented codes are searched.
    """
    pool = list(_KNOWN) if candidates is None else list(candidates)
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
    return [candidate for *_, candidate in scored[:n]]


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
