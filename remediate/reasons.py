"""Why a host ended as it did, as a value: a reason id from REASONS and its arguments, told in English or Japanese.

    why = Reason("step_failed", phase=phase_word("fix"), step="activate", code=Reason("code", code="0xC004F074"),
                 detail="")
    why.render("en")  # 'fix step activate did not succeed (0xC004F074)'
    why.render("ja")  # '修復ステップ activate が成功しませんでした (0xC004F074)'

The English text is what JSON, JUnit and the audit log keep (`HostReport.reason`); the summary tells the reason
in the user's language. An argument is plain text told as it is in both languages (a step id, an error code, a
message from the OS or the transport), a Reason of its own (an optional part, `""` when absent), or Localized
words. Every id has both languages with the same placeholders (tests enumerate REASONS).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, Union

LANGUAGES = ("en", "ja")
T = TypeVar("T")


def in_language(table: Mapping[str, T], language: str) -> T:
    """The entry of an {"en": ..., "ja": ...} table for `language`: any language but ja reads English."""
    return table["ja" if language == "ja" else "en"]

# id -> (English, Japanese). The English texts are the reasons JSON, JUnit and the audit log have always carried.
REASONS: dict[str, tuple[str, str]] = {
    # the engine's decision (remediate/engine.py)
    "healthy": ("every check passed: nothing to fix", "すべてのチェックに合格しました: 修復は不要です"),
    "fixed": ("verified after the fix", "修復後の確認に合格しました"),
    "escalate_playbook": (
        "no script can fix this code: a human must act{facts}",
        "このエラー コードはスクリプトでは修復できません: 担当者の対応が必要です{facts}",
    ),
    "escalate_code": ("{code} needs a human{facts}", "{code} は担当者の対応が必要です{facts}"),
    "facts_incomplete": (
        " (the facts for a human could not all be collected: {reason})",
        " (担当者向けの情報を一部収集できませんでした: {reason})",
    ),
    "step_failed": (
        "{phase} step {step} did not succeed{code}{detail}{facts}",
        "{phase}ステップ {step} が成功しませんでした{code}{detail}{facts}",
    ),
    "code": (" ({code})", " ({code})"),  # an optional error code after a sentence
    "detail": (": {detail}", ": {detail}"),  # an optional transport note after a sentence
    "verify_failed": ("verify did not pass{facts}", "修復後の確認に合格しませんでした{facts}"),
    # Ctrl-C (the first lets steps in flight finish; a second abandons them)
    "interrupted_detect": (
        "interrupted during detect: nothing was changed",
        "検出中に中断しました: 変更はしていません",
    ),
    "interrupted_before_fix": (
        "interrupted before fix step {step}: not verified",
        "修復ステップ {step} の前に中断しました: 確認していません",
    ),
    "interrupted_before_verify": (
        "interrupted after fixing, before verify: not verified",
        "修復後、確認の前に中断しました: 確認していません",
    ),
    "interrupted_verify": ("interrupted during verify: not verified", "確認中に中断しました: 確認していません"),
    "abandoned_connecting": (
        "abandoned while connecting: nothing was changed",
        "接続中に中止しました: 変更はしていません",
    ),
    "abandoned_changed": (
        "abandoned during {phase} step {step}: changes may have happened, not verified",
        "{phase}ステップ {step} の実行中に中止しました: 変更された可能性があります。確認していません",
    ),
    "abandoned_unchanged": (
        "abandoned during {phase} step {step}: nothing was changed",
        "{phase}ステップ {step} の実行中に中止しました: 変更はしていません",
    ),
    "abandoned_after_change": (
        "abandoned after a change, between steps: not verified",
        "変更後、ステップの間で中止しました: 確認していません",
    ),
    "abandoned_between_steps": (
        "abandoned between steps: nothing was changed",
        "ステップの間で中止しました: 変更はしていません",
    ),
    "deadline": (
        "deadline: no outcome within {limit} (--host-timeout){changed}",
        "期限切れ: {limit} 以内に結果が出ませんでした (--host-timeout){changed}",
    ),
    "deadline_changed": (
        "; a change was in flight or made: state unknown",
        "。変更中または変更後のため、状態は不明です",
    ),
    "auth_failed": ("authentication refused: {message}", "認証が拒否されました: {message}"),
    "not_started_auth": (
        "not started: {count} host(s) refused the credentials (--max-auth-failures): the account may be "
        "locked out if more are tried",
        "未実行: {count} 台のホストが資格情報を拒否しました (--max-auth-failures)。これ以上試すとアカウントが"
        "ロックされるおそれがあります",
    ),
    "key_ended": (  # the key ledger held back a key an activation server ended earlier in the run (ledger/)
        "key {key} not installed: it is {state} (an activation server answered {code} earlier in this run)",
        "キー {key} はインストールしていません: {state}です (この実行中にライセンス認証サーバーが {code} を返しました)",
    ),
    "other_playbook": (
        "detection found {found}, which is not this playbook's to fix: run `{command}` for it "
        "(--force acts anyway); nothing was changed",
        "検出されたコードは {found} で、このプレイブックの対象ではありません。`{command}` を実行してください "
        "(--force で強制実行)。変更はしていません",
    ),
    "not_started_interrupted": ("not started: the run was interrupted", "未実行: 実行が中断されました"),
    "not_started_max_fail": (
        "not started: --max-fail-percent was reached",
        "未実行: --max-fail-percent の上限に達しました",
    ),
    # transport faults during a step ({note} is "kind: message", as the transport wrote it)
    "transport_fix_not_retried": (
        "transport fault during fix step {step} ({note}); not retried: state unknown",
        "修復ステップ {step} の実行中に通信エラーが発生しました ({note})。再試行していません: 状態は不明です",
    ),
    "transport_after_change": (
        "lost the host after a change, at {step}: {note}",
        "変更後、{step} でホストとの接続が失われました: {note}",
    ),
    "connect_failed": ("{kind}: {message}", "接続できませんでした: {kind}: {message}"),
    "transport_unreachable": ("{step}: {note}", "{step} で接続できませんでした: {note}"),
    "internal_error": ("internal error: {kind}: {message}", "内部エラー: {kind}: {message}"),
    # a dispatched run: what the controller decides for a host its worker did not finish (remediate/dispatch)
    "worker_lost_changed": (
        "its worker (site {site}) was lost after a change was sent ({step}): state unknown, not run again; "
        "--rerun-failed detects it again before changing anything",
        "担当ワーカー (サイト {site}) が変更の送信後に失われました ({step}): 状態は不明です。再実行はしていません。"
        "--rerun-failed は変更の前に再検出します",
    ),
    "worker_lost_unchanged": (
        "its worker (site {site}) was lost before any change was sent: nothing was changed, not run again",
        "担当ワーカー (サイト {site}) が変更を送る前に失われました: 変更はしていません。再実行はしていません",
    ),
    "worker_refused": (
        "the worker of site {site} could not run it: {message}; nothing was changed",
        "サイト {site} のワーカーが実行できませんでした: {message}。変更はしていません",
    ),
    "abandoned_remote": (
        "abandoned while its worker (site {site}) ran it: no change had been sent",
        "ワーカー (サイト {site}) の実行中に中止しました: 変更はまだ送っていません",
    ),
    # run auto's choice before any playbook runs (remediate/status.py)
    "licensed": ("licensed: nothing to fix", "ライセンス認証済み: 修復は不要です"),
    "licensed_evaluation": (
        "licensed evaluation edition: it ends in {days} day(s); convert it before then (playbook {code}, "
        "{opt_in})",
        "評価版としてライセンス認証済みです。残り {days} 日で期限が切れます。それまでに変換してください "
        "(プレイブック {code}、{opt_in})",
    ),
    "office_not_handled": (
        "Office: not handled — Windows is licensed, Office is not ({detail}); remediate's playbooks change "
        "Windows' licence only: on the host run cscript ospp.vbs /dstatus, then /act (for KMS, /sethst:<KMS host> "
        "first)",
        "Office: 対象外です — Windows はライセンス認証済みですが、Office はライセンス認証されていません ({detail})。"
        "remediate のプレイブックは Windows のライセンスだけを変更します。ホストで cscript ospp.vbs /dstatus を"
        "実行し、続いて /act を実行してください (KMS の場合は先に /sethst:<KMS ホスト>)",
    ),
    "kms_host_too_old": (
        "the KMS host is too old for this client: {detail} (a change on the KMS host: install a host key of a newer "
        "CSVLK group and its updates, then activate the clients again)",
        "KMS ホストがこのクライアントには古すぎます: {detail} (KMS ホストでの変更が必要です。新しい CSVLK グループの"
        "ホスト キーと更新プログラムをインストールしてから、クライアントを再度ライセンス認証してください)",
    ),
    "status_unreachable": ("{error}", "接続できませんでした: {error}"),
    "status_unreachable_unknown": ("unreachable", "接続できませんでした"),
    "no_code": (
        "not licensed ({state}) and no error code to choose a playbook{detail}",
        "ライセンス認証されていません ({state})。プレイブックを選ぶためのエラー コードがありません{detail}",
    ),
    "status_not_read": ("not read: interrupted", "未取得: 中断されました"),
    "status_script": ("script: {error}", "スクリプト エラー: {error}"),
    "no_playbook": ("no playbook for {code}: {meaning}", "{code} に対応するプレイブックはありません: {meaning}"),
    "look": ("a human must look", "担当者による確認が必要です"),
}


@dataclass(frozen=True)
class Localized:
    """Words that differ by language, given as an argument (a phase name, a licence state, a code's meaning)."""

    en: str
    ja: str

    def render(self, language: str) -> str:
        return self.ja if language == "ja" and self.ja else self.en


Argument = Union[str, "Reason", Localized]

PHASES = {  # the playbook phases as a Japanese administrator names them
    "detect": Localized("detect", "検出"),
    "fix": Localized("fix", "修復"),
    "verify": Localized("verify", "確認"),
    "escalate": Localized("escalate", "情報収集"),
}


def phase_word(phase: str) -> Localized:
    return PHASES.get(phase, Localized(phase, phase))


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True)
class Reason:
    """One reason: an id of REASONS and the arguments its texts name."""

    id: str
    args: dict[str, Argument]

    def __init__(self, id: str, **args: Argument) -> None:
        if id not in REASONS:
            raise KeyError(f"no reason {id!r}")
        wanted = placeholders(REASONS[id][0])
        if set(args) != wanted:
            raise TypeError(f"reason {id!r} takes {sorted(wanted)}, not {sorted(args)}")
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "args", dict(args))

    def __hash__(self) -> int:
        return hash((self.id, tuple(sorted((name, str(value)) for name, value in self.args.items()))))

    def render(self, language: str = "en") -> str:
        english, japanese = REASONS[self.id]
        template = japanese if language == "ja" else english
        return template.format_map({name: _render(value, language) for name, value in self.args.items()})

    def __str__(self) -> str:
        return self.render("en")

    def to_dict(self) -> dict[str, Any]:
        """For machines: the id and the arguments (nested reasons as their own dicts, words in English)."""
        return {"id": self.id, "args": {name: _plain(value) for name, value in self.args.items()}}


def _render(value: Argument, language: str) -> str:
    return value if isinstance(value, str) else value.render(language)


def _plain(value: Argument) -> Any:
    if isinstance(value, Reason):
        return value.to_dict()
    if isinstance(value, Localized):
        return value.en
    return value
