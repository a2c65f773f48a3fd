"""What `list`, `show` and `explain` print: the playbooks and the known codes, in English or Japanese.

    print_playbooks(library.all(), console, "ja")     # `remediate list`: one row per playbook
    playbook_rows(library.all(), "en")                # `remediate list --output json`
    print_playbook(playbook, console, "en")           # `remediate show CODE`
    document = explain_codes(text, library, "ja")      # `remediate explain TEXT [--output json]`
    explanation_lines(document, "ja")

Playbook text itself comes in both languages from the playbooks (`lang`); the words around it are gettext messages,
in the current language.
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
from remediate.i18n import N_, _, pgettext
from remediate.playbook import PHASES, Playbook, PlaybookLibrary
from remediate.secret import MASK

TYPO_CANDIDATES_SHOWN = 5  # a seven-digit typo can stand for many codes: the JSON lists them all

OFFICE = N_(
    "Office activation (ospp.vbs): not handled — remediate's playbooks fix Windows' licence only; on the host run "
    "cscript ospp.vbs /dstatus, then /act (for KMS, /sethst:<KMS host> first)"
)
TYPO_PROBLEMS = {
    "digit-missing": N_("one digit too few"),
    "digit-extra": N_("one digit too many"),
    "look-alike": N_("letters that look like digits"),
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


def print_codes(rows: Sequence[dict[str, Any]], console: Console) -> None:
    """The table of every documented code: what remediate does with it, and where Microsoft documents it (the
    rows carry their meanings in the language code_rows was given; the words around them are in the current
    language)."""
    table = Table(_("code"), _("meaning"), pgettext("catalog", "action"), _("Microsoft source"))
    for row in rows:
        action = {
            "fix": pgettext("action", "fix"),
            "escalate": pgettext("action", "escalate"),
            "closest": _("closest playbook: {playbook}").format(playbook=row["closest_playbook"]),
            "human": _("no playbook: a human acts"),
            "info": _("information: nothing to fix"),
        }[row["action"]]
        table.add_row(Text(row["code"], no_wrap=True), Text(row["meaning"]), Text(action),
                      Text(row["source"]["title"] or ""))
    console.print(table)


def print_playbooks(playbooks: Sequence[Playbook], console: Console, lang: str) -> None:
    """The table of playbooks: codes, category, title, and whether they fix or escalate."""
    table = Table(_("code"), _("category"), _("title"), pgettext("catalog", "action"))
    for p in playbooks:
        action = pgettext("action", "escalate") if p.escalates else pgettext("action", "fix")
        # Text cells: playbook text is never read as console markup.
        codes = " ".join(str(c) for c in p.codes)
        table.add_row(Text(codes), Text(p.category), Text(p.title.get(lang)), action)
    console.print(table)


def print_playbook(playbook: Playbook, console: Console, lang: str) -> None:
    """One playbook: parameters (secret defaults masked), steps by phase, escalation guidance."""
    console.print(Text(f"{playbook.code} — {playbook.title.get(lang)}", style="bold"))
    if playbook.also:
        console.print(Text(_("also: {codes}").format(codes=", ".join(str(c) for c in playbook.also))))
    console.print(Text(playbook.summary.get(lang)))
    console.print(Text(f"{playbook.source}  sha256 {playbook.sha256}", style="dim"))
    if playbook.parameters:
        table = Table(_("parameter"), _("type"), _("required"), _("default"), _("description"),
                      title=_("parameters"))
        for p in playbook.parameters.values():
            kind = f"enum: {', '.join(p.choices)}" if p.choices else p.type
            kind += " " + _("(secret)") if p.is_secret else ""
            default = "" if p.default is None else json.dumps(p.default, ensure_ascii=False).strip('"')
            default = MASK if p.is_secret and default else default
            cells = (p.name, kind, _("yes") if p.required else _("no"), default, p.description.get(lang))
            table.add_row(*(Text(cell) for cell in cells))
        console.print(table)
    headings = {  # the phase and its name in the playbook file
        "detect": pgettext("phase heading", "detect"),
        "fix": pgettext("phase heading", "fix"),
        "verify": pgettext("phase heading", "verify"),
        "escalate": pgettext("phase heading", "escalate"),
    }
    for phase in PHASES:
        steps = playbook.steps_in(phase)
        if not steps:
            continue
        console.print(Text(headings[phase], style="bold"))
        for step in steps:
            notes = [n for n in (
                _("when {condition}").format(condition=step.when) if step.when else "",
                _("only if {condition}").format(condition=step.only_if) if step.only_if else "",
                _("needs --allow {name}").format(name=step.requires_opt_in) if step.requires_opt_in else "",
                _("retry x{attempts}").format(attempts=step.retry.attempts) if step.retry else "",
            ) if n]
            suffix = f"  [{'; '.join(notes)}]" if notes else ""
            console.print(Text(f"  {step.id}: {step.description.get(lang)}{suffix}"))
    console.print(Text(_("escalate ({condition})").format(condition=playbook.escalate.when), style="bold"))
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
                           handover=_(OFFICE))
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
    one and what a human does; then each typo with the codes it may stand for (the document's meanings and titles
    are in `lang`; the words around them in the current language)."""
    lines: list[str] = []
    for row in document["codes"]:
        lines.extend(_other_lines(row) if row["class"] == OTHER else _activation_lines(row))
    for typo in document["typos"]:
        lines.append(_typo_line(typo))
    if all(row["class"] == OTHER for row in document["codes"]):
        lines.append(_("no activation error code found"))
    return lines


def _activation_lines(row: dict[str, Any]) -> list[str]:
    if row["reason"] == FAMILY:
        unknown = _("unknown code (not documented by Microsoft)")
    else:
        unknown = _("no activation meaning documented by Microsoft")
    meaning = row["meaning"] or unknown
    if row["class"] == INFORMATIONAL:
        meaning = _("information, not an error: {meaning}").format(meaning=meaning)
    if row["source"] is not None:
        meaning += "  " + _("(Microsoft: {title})").format(title=row["source"]["title"])
    lines = [f"{row['code']}: {meaning}"]
    if row.get("product") == "office":
        lines.append(f"  {_(OFFICE)}")
        return lines
    handover = _("what to do: {handover}").format(handover=row["handover"]) if row["handover"] else ""
    if row["playbook"]:
        shown = row["playbook"]
        lines.append("  " + _("playbook: {playbook} — {title}").format(playbook=shown, title=row["title"])
                     + f"  (remediate show {shown})")
    elif row["class"] == INFORMATIONAL and handover:
        lines.append(f"  {handover}")
    else:
        lines.append("  " + _("no playbook: escalate to a human"))
        if row["closest_playbook"]:
            shown = row["closest_playbook"]
            closest = _("closest playbook: {playbook} — {title}").format(playbook=shown, title=row["closest_title"])
            lines.append(f"  {closest}  (remediate show {shown})")
        if handover:
            lines.append(f"  {handover}")
    if row["reason"] == CONTEXT:
        lines.append("  " + _('read as an activation code because of "{word}" in the text').format(
            word=row["decided_by"][0]))
    elif row["reason"] == DOCUMENTED:
        lines.append("  " + _("read as an activation code: nothing in the text names another component, and "
                              "Microsoft documents this code for activation"))
    return lines


def _other_lines(row: dict[str, Any]) -> list[str]:
    if row["component"] is not None:
        lines = [f"{row['code']}: " + _('not an activation code: an error of {component} ("{word}" in the text)')
                 .format(component=_(COMPONENTS[row["component"]]), word=row["decided_by"][0])]
    else:
        lines = [f"{row['code']}: " + _("not an activation code: a Windows error Microsoft does not document for "
                                         "activation, and nothing in the text names its component")]
    if row["meaning"]:
        lines.append("  " + _("meaning in Windows: {meaning}").format(meaning=row["meaning"]))
    lines.append("  " + _("no activation playbook applies; see the documentation of that component"))
    return lines


def _typo_line(typo: dict[str, Any]) -> str:
    problems = _(", ").join(_(TYPO_PROBLEMS[problem]) for problem in typo["problems"])
    candidates: list[str] = typo["candidates"]
    if not candidates:
        return _("{typed}: not a code ({problems}); no documented code matches. Nothing was assumed.").format(
            typed=typo["typed"], problems=problems)
    shown = _(" or ").join(candidates[:TYPO_CANDIDATES_SHOWN])
    if len(candidates) > TYPO_CANDIDATES_SHOWN:
        shown += _(" (and {count} more)").format(count=len(candidates) - TYPO_CANDIDATES_SHOWN)
    return _("{typed}: not a code ({problems}); did you mean {candidates}? Nothing was assumed.").format(
        typed=typo["typed"], problems=problems, candidates=shown)
