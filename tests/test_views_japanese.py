"""The views in Japanese (--lang ja, or a Japanese locale): every word a person reads is Japanese, while codes,
host names, commands and what the hosts said stay as they are."""

from __future__ import annotations

import io
from pathlib import Path

from reason_text import has_japanese
from rich.console import Console

from remediate.audit import RunSummary, VerifyResult
from remediate.audit_view import run_lines, verdict
from remediate.codes import ErrorCode
from remediate.engine import Interruption
from remediate.i18n import in_language
from remediate.inventory import Host
from remediate.reasons import Reason
from remediate.report import print_summary
from remediate.results import HostReport, Outcome, RunReport, StepResult
from remediate.status import HostStatus
from remediate.status_view import print_status

F074 = ErrorCode.parse("0xC004F074")


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


def test_the_summary_points_at_what_to_do_next_in_japanese_and_leaves_the_command_as_typed() -> None:
    report = RunReport(code="0xC004F074", audit_path="remediate-audit/run.jsonl", hosts=[
        HostReport(host="pc1.corp.example", code="0xC004F074", outcome=Outcome.FIXED, code_before=F074),
        HostReport(host="pc2.corp.example", code="0xC004F074", outcome=Outcome.AUTH_FAILED,
                   why=Reason("auth_failed", message="the user name or password is incorrect"),
                   reason="authentication refused: the user name or password is incorrect"),
    ])
    shown, buffer = console()
    with in_language("ja"):
        print_summary(report, shown, arguments=["run", "0xC004F074", "--hosts", "hosts.txt"])
    text = buffer.getvalue()
    for words in ("ホスト", "結果", "理由", "修正済み", "認証失敗", "監査ログ: remediate-audit/run.jsonl",
                  "認証が拒否されました: the user name or password is incorrect", "次: 先にアカウント"):
        assert words in text, words
    assert has_japanese(text.splitlines()[-1])  # the verdict
    assert "remediate run 0xC004F074 --hosts hosts.txt --rerun-failed remediate-audit/run.jsonl" in text
    assert "pc2.corp.example" in text and "0xC004F074 → -" in text
    for english in ("outcome", "auth-failed", "fixed", "next:", "authentication refused", "host(s)"):
        assert english not in text, english


def test_the_status_table_names_states_as_windows_does_in_japanese() -> None:
    statuses = [
        HostStatus(Host("a.corp.example"), result=StepResult(ok=True, license_status=1)),
        HostStatus(Host("b.corp.example"), result=StepResult(ok=True, license_status=5, hresult=F074,
                                                             data={"grace_minutes_remaining": 1500})),
        HostStatus(Host("c.corp.example"), error="connection: [Errno 111] Connection refused", unreachable=True),
    ]
    shown, buffer = console()
    with in_language("ja"):
        print_status(statuses, shown)
    text = buffer.getvalue()
    for words in ("3 台のホストのライセンス状態", "ホスト", "状態", "ライセンス認証済み", "通知モード",
                  "接続できませんでした", "3 台中 1 台がライセンス認証済み", "1日 1時間"):
        assert words in text, words
    assert "0xC004F074" in text and "b.corp.example" in text and "connection: [Errno 111] Connection refused" in text
    assert "Licensed" not in text and "Notification" not in text and "licensed" not in text


def test_the_audit_view_tells_the_log_s_state_and_each_run_in_japanese() -> None:
    run = RunSummary(
        started="2026-12-05T10:00:00Z", operator="alice", code="0xC004F074",
        arguments=["run", "0xC004F074", "--hosts", "hosts.txt"],
        hosts={
            "pc1.corp.example": {"outcome": "fixed", "code_before": "0xC004F074"},
            "pc2.corp.example": {"change_in_flight": {"phase": "fix", "step": "activate"}},
        },
        steps=7, summary={"counts": {"fixed": 1, "failed": 0}, "exit": 130},
    )
    checked = VerifyResult(Path("run.jsonl"), events=12, truncated=True)
    with in_language("ja"):
        lines = "\n".join(run_lines([run]))
        said = verdict(checked)
    assert "実行 0xC004F074 (実行者 alice): 開始 2026-12-05T10:00:00Z、終了 未終了" in lines
    assert "引数: run 0xC004F074 --hosts hosts.txt" in lines
    assert "pc1.corp.example" in lines and "修正済み" in lines and "0xC004F074 -> -" in lines
    assert "状態不明: 変更の実行中でした (fix step activate)" in lines and "--rerun-failed" in lines
    assert "ステップ イベント 7 件、修正済み 1、終了コード 130" in lines
    assert said.startswith("run.jsonl: 改ざんなし (ただし異常終了で途切れています): 12 件のイベントを検証済み。"
                           "最後の行は途中で切れています")
    assert "キーなしチェーン" in said and "REMEDIATE_AUDIT_KEY_FILE" in said


def test_the_audit_view_reads_as_before_in_english() -> None:
    run = RunSummary(started="s", operator="bob", code="auto", arguments=["run", "auto"],
                     hosts={"pc1": {"outcome": "escalate"}}, steps=2, summary={"counts": {"escalate": 1}, "exit": 4})
    lines = list(run_lines([run]))
    assert lines[0] == "\nrun auto by bob: started s, finished never (interrupted, crashed, or still running)"
    assert lines[2] == f"  {'pc1':<30} {'escalate':<12} - -> -"
    assert lines[-1] == "  2 step events; escalate 1; exit 4"


def test_ctrl_c_tells_what_it_does_in_japanese() -> None:
    with in_language("ja"):
        first = Interruption(abandoning=False, in_flight=("pc1", "pc2")).message()
        second = Interruption(abandoning=True, in_flight=("pc1",)).message()
    assert first == ("中断しています: 実行中の 2 個のステップを完了させます。"
                     "中止するにはもう一度 Ctrl-C を押してください")
    assert second.startswith("実行中の 1 個のステップを中止します") and "interrupted" in second  # as the log has it
    assert Interruption(abandoning=False, in_flight=("pc1",)).message().startswith("interrupted: finishing 1")
