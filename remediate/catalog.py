"""What `list`, `show` and `explain` print: the playbooks and the known codes, in English or Japanese.

    print_playbooks(library.all(), console, "ja")     # `remediate list`: one row per playbook
    playbook_rows(library.all(), "en")                # `remediate list --output json`
    print_playbook(playbook, console, "en")           # `remediate show CODE`
    document = explain_codes(text, library, "ja")      # `remediate explain TEXT [--output json]`
    explanation_lines(document, "ja")

Playbook text itself comes in both languages from the playbooks; the words around it are in WORDS.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from remediate.codes import code_info, handover, known_codes, source
from remediate.explain import COMPONENTS, CONTEXT, DOCUMENTED, FAMILY, INFORMATIONAL, OTHER, Finding, scan
from remediate.playbook import PHASES, Playbook, PlaybookLibrary
from remediate.reasons import in_language
from remediate.secret import MASK

TYPO_CANDIDATES_SHOWN = 5  # a seven-digit typo can stand for many codes: the JSON lists them all

WORDS = {
    "en": {
        "code": "code", "category": "category", "title": "title", "action": "action", "fix": "fix",
        "action_fix": "fix", "action_escalate": "escalate", "meaning": "meaning", "source_column": "Microsoft source",
        "action_human": "no playbook: a human acts", "action_closest": "closest playbook: {0}",
        "action_info": "information: nothing to fix",
        "office": "Office activation (ospp.vbs): not handled — remediate's playbooks fix Windows' licence only; on "
        "the host run cscript ospp.vbs /dstatus, then /act (for KMS, /sethst:<KMS host> first)",
        "escalate": "escalate", "also": "also", "parameters": "parameters", "parameter": "parameter",
        "type": "type", "required": "required", "default": "default", "description": "description", "yes": "yes",
        "no": "no", "secret": "(secret)", "when": "when {0}", "only_if": "only if {0}",
        "opt_in": "needs --allow {0}", "retry": "retry x{0}", "escalation": "escalate ({0})",
        "detect": "detect", "verify": "verify", "playbook": "playbook",
        "unknown": "unknown code (not documented by Microsoft)", "no_playbook": "no playbook: escalate to a human",
        "nothing": "no activation error code found",
        "unknown_generic": "no activation meaning documented by Microsoft",
        "source": "(Microsoft: {0})",
        "closest": "closest playbook: {0} — {1}",
        "handover": "what to do: {0}",
        "because": 'read as an activation code because of "{0}" in the text',
        "documented": "read as an activation code: nothing in the text names another component, and Microsoft "
                      "documents this code for activation",
        "information": "information, not an error: {0}",
        "other": 'not an activation code: an error of {0} ("{1}" in the text)',
        "other_unnamed": "not an activation code: a Windows error Microsoft does not document for activation, "
                         "and nothing in the text names its component",
        "windows_meaning": "meaning in Windows: {0}",
        "other_next": "no activation playbook applies; see the documentation of that component",
        "typo": "{0}: not a code ({1}); did you mean {2}? Nothing was assumed.",
        "typo_none": "{0}: not a code ({1}); no documented code matches. Nothing was assumed.",
        "digit-missing": "one digit too few", "digit-extra": "one digit too many",
        "look-alike": "letters that look like digits", "and": ", ", "or": " or ", "more": " (and {0} more)",
    },
    "ja": {
        "code": "コード", "category": "分類", "title": "タイトル", "action": "対処", "fix": "修正 (fix)",
        "action_fix": "修正", "action_escalate": "エスカレーション", "meaning": "意味",
        "source_column": "Microsoft の出典",
        "action_human": "プレイブックなし: 担当者が対応", "action_closest": "最も近いプレイブック: {0}",
        "action_info": "情報: 修復は不要",
        "office": "Office のライセンス認証 (ospp.vbs): 対象外です。remediate のプレイブックは Windows のライセンス"
        "だけを修復します。ホストで cscript ospp.vbs /dstatus を実行し、続いて /act を実行してください (KMS の場合は"
        "先に /sethst:<KMS ホスト>)",
        "escalate": "エスカレーション (escalate)", "also": "関連コード", "parameters": "パラメーター",
        "parameter": "パラメーター", "type": "型", "required": "必須", "default": "既定値", "description": "説明",
        "yes": "はい", "no": "いいえ", "secret": "(シークレット)", "when": "計画条件 {0}", "only_if": "実行条件 {0}",
        "opt_in": "--allow {0} が必要", "retry": "再試行 {0} 回", "escalation": "エスカレーション ({0})",
        "detect": "検出 (detect)", "verify": "確認 (verify)", "playbook": "プレイブック",
        "unknown": "不明なコード (Microsoft の文書にありません)",
        "no_playbook": "プレイブックなし: 担当者にエスカレーションしてください",
        "nothing": "ライセンス認証のエラーコードは見つかりません",
        "unknown_generic": "Microsoft はライセンス認証のエラーとして文書化していません",
        "source": "(出典: Microsoft「{0}」)",
        "closest": "最も近いプレイブック: {0} — {1}",
        "handover": "対処: {0}",
        "because": "テキスト中の「{0}」から、ライセンス認証のエラーと判断しました",
        "documented": "テキストに他のコンポーネントを示す語がなく、Microsoft がライセンス認証のエラーとして"
                      "文書化しているため、ライセンス認証のエラーと判断しました",
        "information": "情報 (エラーではありません): {0}",
        "other": "ライセンス認証のエラーではありません。{0} のエラーです (テキスト中の「{1}」)",
        "other_unnamed": "ライセンス認証のエラーではありません。Microsoft がライセンス認証について文書化して"
                         "いない Windows のエラーで、どのコンポーネントのものかを示す語もテキストにありません",
        "windows_meaning": "Windows での意味: {0}",
        "other_next": "ライセンス認証のプレイブックの対象外です。そのコンポーネントのドキュメントを参照してください",
        "typo": "{0}: コードではありません ({1})。{2} の入力ミスではありませんか? 読み替えは行っていません。",
        "typo_none": "{0}: コードではありません ({1})。一致する文書化されたコードはありません。"
                     "読み替えは行っていません。",
        "digit-missing": "桁が 1 つ足りません", "digit-extra": "桁が 1 つ多すぎます",
        "look-alike": "数字に似た文字が含まれています", "and": "、", "or": "、", "more": " (ほか {0} 件)",
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


def code_rows(library: PlaybookLibrary, lang: str) -> list[dict[str, Any]]:
    """`remediate list --all`: every documented code, what remediate does with it, and its Microsoft source."""
    rows = []
    for info in known_codes():
        playbook = library.find(info.code)
        closest = library.find(info.closest) if playbook is None and info.closest is not None else None
        if playbook is not None:
            action = "escalate" if playbook.escalates else "fix"
        elif info.code.unsigned >> 30 == 1:  # severity "informational" (0x4…): nothing to fix
            action = "info"
        else:
            action = "closest" if closest is not None else "human"
        rows.append({
            "code": str(info.code),
            "symbol": info.symbol,
            "category": info.category,
            "meaning": info.meaning_ja if lang == "ja" else info.meaning_en,
            "action": action,
            "playbook": str(playbook.code) if playbook is not None else None,
            "closest_playbook": str(closest.code) if closest is not None else None,
            "source": _source_row(info.source),
        })
    return rows


def print_codes(rows: Sequence[dict[str, Any]], console: Console, lang: str) -> None:
    """The table of every documented code: what remediate does with it, and where Microsoft documents it."""
    words = in_language(WORDS, lang)
    table = Table(words["code"], words["meaning"], words["action"], words["source_column"])
    for row in rows:
        action = {
            "fix": words["action_fix"],
            "escalate": words["action_escalate"],
            "closest": words["action_closest"].format(row["closest_playbook"]),
            "human": words["action_human"],
            "info": words["action_info"],
        }[row["action"]]
        table.add_row(Text(row["code"], no_wrap=True), Text(row["meaning"]), Text(action),
                      Text(row["source"]["title"] or ""))
    console.print(table)


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


def explain_codes(text: str, library: PlaybookLibrary, lang: str) -> dict[str, list[dict[str, Any]]]:
    """The JSON document of `explain`: every code in `text` in order of first appearance, classed, with its
    meaning, Microsoft source and playbook (or the closest playbook, or what a human does); and every typo."""
    found = scan(text)
    rows = [_code_row(finding, library, lang) for finding in found.findings]
    if found.office is not None:
        # Office activation: remediate's playbooks change Windows' licence, never Office's. Naming a Windows
        # playbook here would call a host healthy whose Office is still not activated.
        for row in rows:
            if row["class"] != OTHER:
                row.update(product="office", office_evidence=found.office, playbook=None, title=None,
                           closest_playbook=None, closest_title=None,
                           handover=in_language(WORDS, lang)["office"])
    return {
        "codes": rows,
        "typos": [
            {
                "typed": typo.typed,
                "problems": list(typo.problems),
                "candidates": [str(code) for code in typo.candidates],
            }
            for typo in found.typos
        ],
    }


def _code_row(finding: Finding, library: PlaybookLibrary, lang: str) -> dict[str, Any]:
    info = code_info(finding.code)
    row: dict[str, Any] = {
        "code": str(finding.code),
        "class": finding.kind,
        "component": finding.component,
        "reason": finding.reason,
        "decided_by": list(finding.decided_by),
        "meaning": None,
        "category": None,
        "symbol": None,
        "source": None,
        "articles": [],
        "playbook": None,
        "title": None,
        "closest_playbook": None,
        "closest_title": None,
        "handover": None,
    }
    if finding.kind == OTHER:
        # Another component's error: its Windows meaning, never an activation playbook.
        row["meaning"] = info.windows_meaning(lang) if info else None
        return row
    if info is not None:
        row.update(
            meaning=info.meaning(lang),
            category=info.category,
            symbol=info.symbol,
            source=_source_row(info.source),
            articles=[_source_row(key) for key in info.articles],
        )
    playbook = library.find(finding.code)
    closest = library.find(info.closest) if info is not None and info.closest is not None else None
    if playbook is not None:
        row.update(playbook=str(playbook.code), title=playbook.title.get(lang))
    elif closest is not None:
        row.update(closest_playbook=str(closest.code), closest_title=closest.title.get(lang))
    if playbook is None and info is not None:
        row["handover"] = handover(info.handover).text(lang)
    return row


def _source_row(key: str) -> dict[str, str | None]:
    found = source(key)
    return {"title": found.title, "url": found.url}


def explanation_lines(document: dict[str, list[dict[str, Any]]], lang: str) -> list[str]:
    """The text of `explain`: each code's class and meaning, then the playbook that handles it - or the closest
    one and what a human does; then each typo with the codes it may stand for."""
    words = in_language(WORDS, lang)
    lines: list[str] = []
    for row in document["codes"]:
        lines.extend(_other_lines(row, words, lang) if row["class"] == OTHER else _activation_lines(row, words))
    for typo in document["typos"]:
        lines.append(_typo_line(typo, words))
    if all(row["class"] == OTHER for row in document["codes"]):
        lines.append(words["nothing"])
    return lines


def _activation_lines(row: dict[str, Any], words: dict[str, str]) -> list[str]:
    unknown = words["unknown"] if row["reason"] == FAMILY else words["unknown_generic"]
    meaning = row["meaning"] or unknown
    if row["class"] == INFORMATIONAL:
        meaning = words["information"].format(meaning)
    if row["source"] is not None:
        meaning += "  " + words["source"].format(row["source"]["title"])
    lines = [f"{row['code']}: {meaning}"]
    if row.get("product") == "office":
        lines.append(f"  {words['office']}")
        return lines
    if row["playbook"]:
        shown = row["playbook"]
        lines.append(f"  {words['playbook']}: {shown} — {row['title']}  (remediate show {shown})")
    elif row["class"] == INFORMATIONAL and row["handover"]:
        lines.append(f"  {words['handover'].format(row['handover'])}")
    else:
        lines.append(f"  {words['no_playbook']}")
        if row["closest_playbook"]:
            shown = row["closest_playbook"]
            lines.append(f"  {words['closest'].format(shown, row['closest_title'])}  (remediate show {shown})")
        if row["handover"]:
            lines.append(f"  {words['handover'].format(row['handover'])}")
    if row["reason"] == CONTEXT:
        lines.append(f"  {words['because'].format(row['decided_by'][0])}")
    elif row["reason"] == DOCUMENTED:
        lines.append(f"  {words['documented']}")
    return lines


def _other_lines(row: dict[str, Any], words: dict[str, str], lang: str) -> list[str]:
    if row["component"] is not None:
        component = COMPONENTS[row["component"]][lang if lang == "ja" else "en"]
        lines = [f"{row['code']}: {words['other'].format(component, row['decided_by'][0])}"]
    else:
        lines = [f"{row['code']}: {words['other_unnamed']}"]
    if row["meaning"]:
        lines.append(f"  {words['windows_meaning'].format(row['meaning'])}")
    lines.append(f"  {words['other_next']}")
    return lines


def _typo_line(typo: dict[str, Any], words: dict[str, str]) -> str:
    problems = words["and"].join(words[problem] for problem in typo["problems"])
    candidates: list[str] = typo["candidates"]
    if not candidates:
        return words["typo_none"].format(typo["typed"], problems)
    shown = words["or"].join(candidates[:TYPO_CANDIDATES_SHOWN])
    if len(candidates) > TYPO_CANDIDATES_SHOWN:
        shown += words["more"].format(len(candidates) - TYPO_CANDIDATES_SHOWN)
    return words["typo"].format(typo["typed"], problems, shown)
