"""Why a host ended as it did, told in English (JSON, JUnit, audit log) and in Japanese (the summary)."""

from __future__ import annotations

import io
import json
import re
import string

import pytest
from reason_text import english_left, has_japanese
from rich.console import Console

from remediate.codes import ErrorCode
from remediate.diagnosis import choose_playbooks
from remediate.i18n import gettext_in, in_language
from remediate.inventory import Host
from remediate.reasons import PHASES, REASONS, Localized, Reason, phase_word, placeholders
from remediate.report import print_summary, to_json
from remediate.results import HostReport, Outcome, RunReport, StepResult
from remediate.status import NOT_READ, HostStatus

F074 = ErrorCode.parse("0xC004F074")


@pytest.mark.parametrize("reason_id", sorted(REASONS))
def test_every_reason_has_both_languages_with_the_same_placeholders(reason_id: str) -> None:
    english = REASONS[reason_id]
    japanese = gettext_in("ja", english)
    assert english.strip() and japanese.strip()
    assert placeholders(english) == placeholders(japanese)
    words = "".join(literal for literal, *_ in string.Formatter().parse(japanese))
    # A sentence is Japanese; only a bare part (" ({code})", ": {detail}") may have no words at all.
    assert has_japanese(words) or not re.search(r"[A-Za-z]", words), japanese
    assert not english_left(japanese), japanese


def test_a_reason_refuses_an_unknown_id_or_the_wrong_arguments() -> None:
    with pytest.raises(KeyError):
        Reason("no-such-reason")
    with pytest.raises(TypeError, match="step"):
        Reason("interrupted_before_fix")
    with pytest.raises(TypeError):
        Reason("healthy", step="detect")


def test_a_composed_reason_reads_as_before_in_english_and_wholly_japanese_in_japanese() -> None:
    transport = Reason("transport_unreachable", step="escalation-facts", note="connection: [Errno 111] refused")
    why = Reason(
        "step_failed",
        phase=phase_word("verify"),
        step="verify-activation",
        code=Reason("code", code=str(F074)),
        detail="",
        facts=Reason("facts_incomplete", reason=transport),
    )
    assert why.render("en") == (
        "verify step verify-activation did not succeed (0xC004F074) (the facts for a human could not all be "
        "collected: escalation-facts: connection: [Errno 111] refused)"
    )
    japanese = why.render("ja")
    assert japanese == (
        "確認ステップ verify-activation が成功しませんでした (0xC004F074) (担当者向けの情報を一部収集できません"
        "でした: escalation-facts で接続できませんでした: connection: [Errno 111] refused)"
    )
    assert not english_left(japanese)  # the OS's own message stays as it was; no sentence of ours is English
    assert str(why) == why.render("en")
    assert why.to_dict() == {
        "id": "step_failed",
        "args": {
            "phase": "verify",
            "step": "verify-activation",
            "code": {"id": "code", "args": {"code": "0xC004F074"}},
            "detail": "",
            "facts": {
                "id": "facts_incomplete",
                "args": {
                    "reason": {
                        "id": "transport_unreachable",
                        "args": {"step": "escalation-facts", "note": "connection: [Errno 111] refused"},
                    }
                },
            },
        },
    }


def test_every_phase_has_a_japanese_name() -> None:
    assert all(has_japanese(word.render("ja")) for word in PHASES.values())
    assert phase_word("custom") == Localized("custom", "custom")  # a phase no playbook has: its own name


def status(result: StepResult | None = None, error: str | None = None, unreachable: bool = False) -> HostStatus:
    return HostStatus(Host("pc1.corp.example"), result=result, error=error, unreachable=unreachable)


@pytest.mark.parametrize(
    ("read", "reason_id", "english", "japanese"),
    [
        (status(StepResult(ok=True, license_status=1)), "licensed", "licensed: nothing to fix", "ライセンス認証済み"),
        (
            status(error="connection: [Errno 111] Connection refused", unreachable=True),
            "status_unreachable",
            "connection: [Errno 111] Connection refused",
            "接続できませんでした: connection: [Errno 111] Connection refused",
        ),
        (status(unreachable=True), "status_unreachable_unknown", "unreachable", "接続できませんでした"),
        (
            status(error=NOT_READ),
            "no_code",
            "not licensed (unknown) and no error code to choose a playbook: not read: interrupted",
            "ライセンス認証されていません (不明)。プレイブックを選ぶためのエラー コードがありません: 未取得: 中断",
        ),
        (
            status(StepResult(ok=False, license_status=0), error="script: Get-CimInstance failed"),
            "no_code",
            "not licensed (Unlicensed) and no error code to choose a playbook: script: Get-CimInstance failed",
            "(ライセンスなし)。プレイブックを選ぶためのエラー コードがありません: スクリプト エラー: Get-CimInstance",
        ),
        (
            status(StepResult(ok=False, hresult=F074, license_status=2)),
            "no_playbook",
            "no playbook for 0xC004F074: The computer could not be activated",
            "0xC004F074 に対応するプレイブックはありません: コンピューターをライセンス認証できませんでした",
        ),
        (
            status(StepResult(ok=False, hresult=ErrorCode.parse("0xC004FFFE"), license_status=2)),
            "no_playbook",
            "no playbook for 0xC004FFFE: a human must look",
            "0xC004FFFE に対応するプレイブックはありません: 担当者による確認が必要です",
        ),
    ],
)
def test_auto_decides_hosts_without_a_playbook_in_either_language(
    read: HostStatus, reason_id: str, english: str, japanese: str
) -> None:
    (decided,) = choose_playbooks([read], lambda code: None).decided
    assert decided.why is not None and decided.why.id == reason_id
    assert decided.reason.startswith(english) and decided.reason == decided.reason_in("en")
    assert japanese in decided.reason_in("ja") and not english_left(decided.reason_in("ja"))


def sample() -> RunReport:
    why = Reason("transport_after_change", step="activate", note="timeout: no answer in 60s")
    return RunReport(
        code="0xC004F074",
        hosts=[
            HostReport(host="pc1", code="0xC004F074", outcome=Outcome.FAILED, why=why),
            HostReport(host="pc2", code="0xC004F074", outcome=Outcome.HEALTHY, reason="told as plain text"),
        ],
    )


def test_json_keeps_the_english_reason_and_adds_its_id_and_arguments() -> None:
    pc1, pc2 = json.loads(to_json(sample()))["hosts"]
    assert pc1["reason"] == "lost the host after a change, at activate: timeout: no answer in 60s"
    assert pc1["reason_id"] == "transport_after_change"
    assert pc1["reason_args"] == {"step": "activate", "note": "timeout: no answer in 60s"}
    assert pc2["reason"] == "told as plain text" and pc2["reason_id"] is None and pc2["reason_args"] is None


def test_the_japanese_summary_tells_the_reason_in_japanese() -> None:
    buffer = io.StringIO()
    with in_language("ja"):
        print_summary(sample(), Console(file=buffer, width=200, color_system=None))
    text = buffer.getvalue()
    row = next(line for line in text.splitlines() if "pc1" in line)
    # the transport's kind in Japanese; a text it does not know stays as written
    assert "変更後、activate でホストとの接続が失われました: タイムアウト: no answer in 60s" in row
    assert "lost the host" not in text and "remediate 0xC004F074: 2 台" in text
    assert "told as plain text" in text  # a reason given only as text is shown as given
