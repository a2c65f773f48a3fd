"""What `list`, `show` and `explain` print: the playbooks and the known codes, in English or Japanese.

    print_playbooks(library.all(), console, "ja")     # `remediate list`: one row per playbook
    playbook_rows(library.all(), "en")                # `remediate list --output json`
    print_playbook(playbook, console, "en")           # `remediate show CODE`
    found = explain_codes(text, library, "ja")         # `remediate explain TEXT`: one row per code found
    explanation_lines(found, "ja")

Playbook text itself comes in both languages from the playbooks; the words around it are in WORDS.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from remediate.codes import code_info
from remediate.explain import find_codes
from remediate.playbook import PHASES, Playbook, PlaybookLibrary
from remediate.reasons import in_language
from remediate.secret import MASK

WORDS = {
    "en": {
        "code": "code", "category": "category", "title": "title", "action": "action", "fix": "fix",
        "action_fix": "fix", "action_escalate": "escalate",
        "escalate": "escalate", "also": "also", "parameters": "parameters", "parameter": "parameter",
        "type": "type", "required": "required", "default": "default", "description": "description", "yes": "yes",
        "no": "no", "secret": "(secret)", "when": "when {0}", "only_if": "only if {0}",
        "opt_in": "needs --allow {0}", "retry": "retry x{0}", "escalation": "escalate ({0})",
        "detect": "detect", "verify": "verify", "playbook": "playbook",
        "unknown": "unknown code (not documented by Microsoft)", "no_playbook": "no playbook: escalate to a human",
        "nothing": "no activation error code found",
    },
    "ja": {
        "code": "コード", "category": "分類", "title": "タイトル", "action": "対処", "fix": "修正 (fix)",
        "action_fix": "修正", "action_escalate": "エスカレーション",
        "escalate": "エスカレーション (escalate)", "also": "関連コード", "parameters": "パラメーター",
        "parameter": "パラメーター", "type": "型", "required": "必須", "default": "既定値", "description": "説明",
        "yes": "はい", "no": "いいえ", "secret": "(シークレット)", "when": "計画条件 {0}", "only_if": "実行条件 {0}",
        "opt_in": "--allow {0} が必要", "retry": "再試行 {0} 回", "escalation": "エスカレーション ({0})",
        "detect": "検出 (detect)", "verify": "確認 (verify)", "playbook": "プレイブック",
        "unknown": "不明なコード (Microsoft の文書にありません)",
        "no_playbook": "プレイブックなし: 担当者にエスカレーションしてください",
        "nothing": "ライセンス認証のエラーコードは見つかりません",
    },
}


def playbook_rows(playbooks: Sequence[Playbook], lang: str) -> list[dict[str, Any]]:
    """One JSON row per playbook."""
    return [
        {
            "code": str(p.code),
            "also": [str(c) for c in p.also],
            "category": p.category,
            "title": p.title.get(lang),
            "summary": p.summary.get(lang),
            "escalates": p.escalates,
            "source": str(p.source),
        }
        for p in playbooks
    ]


def print_playbooks(playbooks: Sequence[Playbook], console: Console, lang: str) -> None:
    """The table of playbooks: codes, category, title, and whether they fix or escalate."""
    words = in_language(WORDS, lang)
    table = Table(words["code"], words["category"], words["title"], words["action"])
    for p in playbooks:
        action = words["action_escalate"] if p.escalates else words["action_fix"]
        # Text cells: playbook text is never read as console markup.
        codes = " ".join(str(c) for c in p.codes)
        table.add_row(Text(codes), Text(p.category), Text(p.title.get(lang)), action)
    console.print(table)


def print_playbook(playbook: Playbook, console: Console, lang: str) -> None:
    """One playbook: parameters (secret defaults masked), steps by phase, escalation guidance."""
    words = in_language(WORDS, lang)
    console.print(Text(f"{playbook.code} — {playbook.title.get(lang)}", style="bold"))
    if playbook.also:
        console.print(Text(f"{words['also']}: " + ", ".join(str(c) for c in playbook.also)))
    console.print(Text(playbook.summary.get(lang)))
    console.print(Text(f"{playbook.source}  sha256 {playbook.sha256}", style="dim"))
    if playbook.parameters:
        table = Table(words["parameter"], words["type"], words["required"], words["default"],
                      words["description"], title=words["parameters"])
        for p in playbook.parameters.values():
            kind = f"enum: {', '.join(p.choices)}" if p.choices else p.type
            kind += f" {words['secret']}" if p.is_secret else ""
            default = "" if p.default is None else json.dumps(p.default, ensure_ascii=False).strip('"')
            default = MASK if p.is_secret and default else default
            cells = (p.name, kind, words["yes" if p.required else "no"], default, p.description.get(lang))
            table.add_row(*(Text(cell) for cell in cells))
        console.print(table)
    for phase in PHASES:
        steps = playbook.steps_in(phase)
        if not steps:
            continue
        console.print(Text(words[phase], style="bold"))
        for step in steps:
            notes = [n for n in (
                words["when"].format(step.when) if step.when else "",
                words["only_if"].format(step.only_if) if step.only_if else "",
                words["opt_in"].format(step.requires_opt_in) if step.requires_opt_in else "",
                words["retry"].format(step.retry.attempts) if step.retry else "",
            ) if n]
            suffix = f"  [{'; '.join(notes)}]" if notes else ""
            console.print(Text(f"  {step.id}: {step.description.get(lang)}{suffix}"))
    console.print(Text(words["escalation"].format(playbook.escalate.when), style="bold"))
    console.print(Text(f"  {playbook.escalate.guidance.get(lang)}"))


def explain_codes(text: str, library: PlaybookLibrary, lang: str) -> list[dict[str, str | None]]:
    """One JSON row per code found in `text`, in order of first appearance: its meaning and its playbook."""
    found: list[dict[str, str | None]] = []
    for code in find_codes(text):
        info = code_info(code)
        playbook = library.find(code)
        found.append({
            "code": str(code),
            "playbook": str(playbook.code) if playbook else None,
            "meaning": (info.meaning_ja if lang == "ja" else info.meaning_en) if info else None,
            "category": info.category if info else None,
            "title": playbook.title.get(lang) if playbook else None,
        })
    return found


def explanation_lines(found: Sequence[dict[str, str | None]], lang: str) -> list[str]:
    """The text of `explain`: each code's meaning and the playbook that handles it (or that none does)."""
    words = in_language(WORDS, lang)
    if not found:
        return [words["nothing"]]
    lines: list[str] = []
    for item in found:
        lines.append(f"{item['code']}: {item['meaning'] or words['unknown']}")
        if item["playbook"]:
            shown = item["playbook"]
            lines.append(f"  {words['playbook']}: {shown} — {item['title']}  (remediate show {shown})")
        else:
            lines.append(f"  {words['no_playbook']}")
    return lines
