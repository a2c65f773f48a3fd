"""The transport's English error texts told in Japanese at display time: what transport.translate writes for real
errors, a refused logon as pypsrp reports it, and the notes after it; English readers and unknown texts unchanged."""

from __future__ import annotations

import socket

import pytest
import requests
from pypsrp.exceptions import AuthenticationError
from test_cli_japanese import english_sentences

from remediate import transport
from remediate.errors import TransportErrorKind
from remediate.reasons import Reason
from remediate.transport import Logon, translate
from remediate.transport_text import KINDS, tell

JAPANESE_LOGON = "ログオン: 認証に失敗しました: ユーザー corp\\ops を ntlm で認証できませんでした"


def _told(error: BaseException, logon: Logon | None = None) -> tuple[str, str]:
    failure = translate(error, "ws01", logon=logon)
    text = f"{failure.kind}: {failure.message}"
    return text, tell(text, "ja")


@pytest.mark.parametrize("error", [
    requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused")),
    requests.exceptions.ConnectionError(socket.gaierror(-2, "Name or service not known")),
    requests.exceptions.ConnectTimeout(),
    requests.exceptions.ReadTimeout(),
    requests.exceptions.ConnectionError(ConnectionResetError()),
    OSError("nothing beneath"),
], ids=lambda error: type(error).__name__)
def test_what_the_transport_writes_is_told_in_japanese(error: BaseException) -> None:
    english, japanese = _told(error)
    assert english_sentences(english)  # the audit log's text is English ...
    assert english_sentences(japanese) == [], japanese  # ... and the reader's is not
    assert tell(english, "en") == english


def test_a_refused_logon_names_the_user_and_the_auth_in_japanese() -> None:
    error = AuthenticationError("Failed to authenticate the user corp\\ops with ntlm")
    english, japanese = _told(error, Logon(auth="ntlm", user="corp\\ops"))
    assert english == "auth: authentication failed: Failed to authenticate the user corp\\ops with ntlm"
    assert japanese == JAPANESE_LOGON
    _, with_note = _told(error, Logon(auth="negotiate", user="corp\\ops"))
    assert with_note.startswith(JAPANESE_LOGON + "。--auth negotiate では Kerberos の失敗")
    assert english_sentences(with_note) == []


def test_a_reason_tells_its_transport_arguments_in_the_readers_language() -> None:
    failure = translate(requests.exceptions.ConnectionError(ConnectionRefusedError()), "ws01")
    why = Reason("connect_failed", kind=failure.kind, message=failure.message)
    assert why.render("en") == "refused: the connection was refused (WinRM not listening, or the host is down)"
    assert why.render("ja") == ("接続できませんでした: 接続拒否: 接続が拒否されました (WinRM が待ち受けていないか、"
                                "ホストが停止しています)")
    assert why.to_dict()["args"]["message"] == failure.message  # machines keep the English


class Krb5Error(Exception):
    """What krb5 raises when the KDC refuses a ticket request: the Kerberos error number, as MIT reports it."""

    def __init__(self, number: int) -> None:
        super().__init__("KRB5_ERROR")  # MIT's own text is kept as written; a name here keeps the test about ours
        self.err_code = transport.KRB5_BASE + number


KERBEROS = ["KRB_AP_ERR_SKEW", "KDC_ERR_PREAUTH_FAILED", "KDC_ERR_C_PRINCIPAL_UNKNOWN", "KDC_ERR_CLIENT_REVOKED",
            "KDC_ERR_KEY_EXPIRED", "KDC_ERR_S_PRINCIPAL_UNKNOWN", "KRB_AP_ERR_NOT_US", "KRB_AP_ERR_BADKEYVER",
            "KRB_AP_ERR_TKT_EXPIRED", "KRB5_KDC_UNREACH", "KRB5_CC_NOTFOUND"]


@pytest.mark.parametrize("name", KERBEROS)
@pytest.mark.parametrize("logon", [Logon("kerberos", "corp\\ops", "HTTP/ws01.corp.example.com"), Logon("kerberos")],
                         ids=["named", "ticket-cache"])
def test_what_kerberos_refused_is_told_in_japanese(name: str, logon: Logon) -> None:
    english, japanese = _told(Krb5Error(getattr(transport, name)), logon)
    assert english.startswith("auth: Kerberos: ") and english_sentences(english)
    assert japanese.startswith("ログオン: Kerberos: ") and english_sentences(japanese) == [], japanese


def test_a_step_that_ran_out_of_time_is_told_with_its_seconds() -> None:
    assert tell("timeout: the step did not finish within 12.5s", "ja") == \
        "タイムアウト: ステップが 12.5 秒以内に終わりませんでした"


def test_an_unknown_text_stays_as_written() -> None:
    text = "protocol: ValueError: something only the library knows"
    assert tell(text, "ja") == "プロトコル: ValueError: something only the library knows"
    assert tell("activate", "ja") == "activate"  # a step id is not a transport text
    assert set(KINDS) == {kind.value for kind in TransportErrorKind}  # every kind has its word
