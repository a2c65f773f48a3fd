"""What `remediate keys` shows: tables, JSON, CSV and a self-contained HTML page, in any language (gettext).

Keys appear masked (XXXXX-XXXXX-XXXXX-XXXXX-T83GX) everywhere; the ledger holds nothing more to show.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from remediate.i18n import N_, gettext_in, translated
from remediate.ledger.channels import NAMES as CHANNEL_NAMES
from remediate.ledger.records import MASK, KeyRecord, KeyUsage, Placement, UseRecord

WORDS = {  # gettext messages: words(language) has them translated
    "label": N_("label"),
    "key": N_("key"),
    "channel": N_("channel"),
    "product": N_("product"),
    "budget": N_("budget left"),
    "state": N_("state"),
    "installs": N_("installs"),
    "activations": N_("activations"),
    "failures": N_("failures"),
    "hosts": N_("hosts"),
    "last_used": N_("last used"),
    "added": N_("added"),
    "by": N_("by"),
    "encrypted": N_("stored"),
    "host": N_("host"),
    "last_action": N_("last action"),
    "at": N_("at"),
    "run": N_("run id"),
    "result": N_("result"),
    "last_seen": N_("last seen"),
    "operator": N_("operator"),
    "action": N_("action"),
    "keys_title": N_("Keys in the ledger ({count})"),
    "hosts_title": N_("Keys on hosts ({count})"),
    "uses_title": N_("Installs and activations ({count})"),
    "report_title": N_("Key ledger report"),
    "no_keys": N_("The ledger has no keys yet: add one with `remediate keys add LABEL --key-env VAR`."),
    "no_hosts": N_("No key has been installed, activated or seen on a host yet."),
    "yes_encrypted": N_("encrypted"),
    "fingerprint_only": N_("fingerprint only"),
    "active": N_("active"),
    "retired": N_("retired"),
    "exhausted": N_("exhausted"),
    "blocked": N_("blocked"),
    "install": N_("install"),
    "activate": N_("activate"),
    "ok": N_("ok"),
    "failed": N_("failed"),
    "generated": N_("Generated {time} from {ledger}"),
    "held": N_("held by run {run} in progress: {count} activation(s)"),
}


def words(language: str) -> dict[str, str]:
    return {**translated(WORDS, language), "unlimited": "-"}


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else ""


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def channel_name(channel: str | None, language: str) -> str:
    name = CHANNEL_NAMES.get(channel or "")
    return gettext_in(language, name) if name else channel or ""


def state_name(record: KeyRecord, language: str) -> str:
    text = words(language).get(record.state, record.state)
    return f"{text} ({record.state_code})" if record.state_code else text


# --- rows for JSON and CSV (English field names, the stored words) ----------------------------------------------


def key_row(record: KeyRecord) -> dict[str, Any]:
    return {
        "label": record.label, "key": record.masked, "last_five": record.last_five, "channel": record.channel,
        "product": record.product, "budget": record.budget, "state": record.state, "state_code": record.state_code,
        "encrypted": record.encrypted, "added_at": iso(record.added_at), "added_by": record.added_by,
        "last_used_at": iso(record.last_used_at),
    }


def usage_row(usage: KeyUsage) -> dict[str, Any]:
    return {**key_row(usage.key), "installs": usage.installs, "activations": usage.activations,
            "failures": usage.failures, "hosts": usage.hosts}


def placement_row(place: Placement) -> dict[str, Any]:
    return {
        "host": place.host, "key": place.masked, "last_five": place.last_five, "label": place.label,
        "channel": place.channel, "last_action": place.last_action, "last_action_at": iso(place.last_action_at),
        "run_id": place.run_id, "result": place.result, "last_seen": iso(place.last_seen),
    }


def use_row(use: UseRecord) -> dict[str, Any]:
    return {"label": use.label, "key": MASK + use.last_five, "host": use.host,
            "action": use.action, "at": iso(use.at), "run_id": use.run_id, "operator": use.operator, "ok": use.ok,
            "result": use.result}


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: "" if row.get(name) is None else row.get(name) for name in columns})
    return buffer.getvalue()


KEY_COLUMNS = ("label", "key", "channel", "product", "budget", "state", "state_code", "encrypted", "added_at",
               "added_by", "last_used_at")
USAGE_COLUMNS = ("label", "key", "channel", "product", "budget", "state", "state_code", "installs", "activations",
                 "failures", "hosts", "last_used_at")
PLACEMENT_COLUMNS = ("host", "key", "label", "channel", "last_action", "last_action_at", "run_id", "result",
                     "last_seen")
# `keys report --output csv`: one row per key and host it was used or seen on (a key on no host: one row).
REPORT_COLUMNS = ("label", "key", "channel", "product", "budget", "state", "installs", "activations", "failures",
                  "host", "last_action", "last_action_at", "run_id", "result", "last_seen")


def report_rows(usage: Sequence[KeyUsage], places: Sequence[Placement]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for entry in usage:
        mine = [place for place in places if place.label == entry.key.label]
        summary = usage_row(entry)
        if mine:
            rows.extend({**summary, **placement_row(place)} for place in mine)
        else:
            rows.append(summary)
    return rows


# --- cells for tables and the HTML page (in the reader's language), by column word -------------------------

KEY_TABLE = ("label", "key", "channel", "product", "budget", "state", "last_used", "encrypted")
KEY_DETAILS = ("label", "key", "channel", "product", "budget", "state", "added", "last_used", "encrypted")
USAGE_TABLE = ("label", "key", "channel", "budget", "state", "installs", "activations", "failures", "hosts",
               "last_used")
USAGE_PAGE = ("label", "key", "channel", "product", "budget", "state", "installs", "activations", "failures",
              "hosts", "last_used")
PLACEMENT_TABLE = ("host", "key", "label", "channel", "last_action", "at", "run", "result", "last_seen")
USE_TABLE = ("host", "action", "at", "run", "operator", "result")


def key_cells(record: KeyRecord, language: str, usage: KeyUsage | None = None) -> dict[str, str]:
    """A key as every view shows it; with its usage, its counts too."""
    w = words(language)
    cells = {
        "label": record.label, "key": record.masked, "channel": channel_name(record.channel, language),
        "product": record.product or "", "budget": w["unlimited"] if record.budget is None else str(record.budget),
        "state": state_name(record, language), "added": f"{when(record.added_at)} ({record.added_by})",
        "last_used": when(record.last_used_at),
        "encrypted": w["yes_encrypted"] if record.encrypted else w["fingerprint_only"],
    }
    if usage is not None:
        cells.update(installs=str(usage.installs), activations=str(usage.activations),
                     failures=str(usage.failures), hosts=str(usage.hosts))
    return cells


def placement_cells(place: Placement, language: str) -> dict[str, str]:
    w = words(language)
    return {
        "host": place.host, "key": place.masked, "label": place.label or "",
        "channel": channel_name(place.channel, language),
        "last_action": w.get(place.last_action or "", place.last_action or ""), "at": when(place.last_action_at),
        "run": place.run_id or "", "result": _result(place.result, language), "last_seen": when(place.last_seen),
    }


def use_cells(use: UseRecord, language: str) -> dict[str, str]:
    return {"host": use.host, "action": words(language).get(use.action, use.action), "at": when(use.at),
            "run": use.run_id, "operator": use.operator, "result": _result(use.result, language)}


# --- tables --------------------------------------------------------------------------------------------------


def _print_table(title: str, columns: Sequence[str], rows: Iterable[Mapping[str, str]], console: Console,
                 language: str) -> None:
    w = words(language)
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(w[column])
    for cells in rows:
        table.add_row(*(Text(cells[column]) for column in columns))
    console.print(table)


def print_keys(records: Sequence[KeyRecord], console: Console, language: str) -> None:
    w = words(language)
    if not records:
        console.print(Text(w["no_keys"]))
        return
    _print_table(w["keys_title"].format(count=len(records)), KEY_TABLE,
                 (key_cells(record, language) for record in records), console, language)


def print_key(record: KeyRecord, uses: Sequence[UseRecord], held: Mapping[str, int], console: Console,
              language: str) -> None:
    w = words(language)
    cells = key_cells(record, language)
    for name in KEY_DETAILS:
        console.print(Text(f"{w[name]}: {cells[name]}"))
    for run_id, count in held.items():
        console.print(Text(w["held"].format(count=count, run=run_id)))
    if uses:
        _print_table(w["uses_title"].format(count=len(uses)), USE_TABLE,
                     (use_cells(use, language) for use in uses), console, language)


def print_placements(places: Sequence[Placement], console: Console, language: str) -> None:
    w = words(language)
    if not places:
        console.print(Text(w["no_hosts"]))
        return
    _print_table(w["hosts_title"].format(count=len(places)), PLACEMENT_TABLE,
                 (placement_cells(place, language) for place in places), console, language)


def print_report(usage: Sequence[KeyUsage], places: Sequence[Placement], console: Console, language: str) -> None:
    w = words(language)
    if not usage:
        console.print(Text(w["no_keys"]))
        return
    _print_table(w["keys_title"].format(count=len(usage)), USAGE_TABLE,
                 (key_cells(entry.key, language, entry) for entry in usage), console, language)
    print_placements(places, console, language)


def _result(result: str | None, language: str) -> str:
    if result in ("ok", "failed"):
        return words(language)[result]
    return result or ""


# --- HTML ----------------------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, "Segoe UI", "Yu Gothic UI", "Meiryo", sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
th { background: #f0f0f0; } td.key { font-family: ui-monospace, Consolas, monospace; }
tr.exhausted td, tr.blocked td { background: #fde8e8; } tr.retired td { color: #888; }
.note { color: #666; font-size: .9em; }
"""


def report_html(usage: Sequence[KeyUsage], places: Sequence[Placement], language: str, generated: datetime,
                ledger: str) -> str:
    """One self-contained page (no script, no outside file): the keys with their counts, then each host."""
    w = words(language)

    def cells(values: Mapping[str, str], columns: Sequence[str]) -> str:
        return "".join(f'<td class="key">{html.escape(values[name])}</td>' if name == "key"
                       else f"<td>{html.escape(values[name])}</td>" for name in columns)

    def head(columns: Sequence[str]) -> str:
        return "<tr>" + "".join(f"<th>{html.escape(w[name])}</th>" for name in columns) + "</tr>"

    key_rows = []
    for entry in usage:
        row = cells(key_cells(entry.key, language, entry), USAGE_PAGE)
        key_rows.append(f'<tr class="{html.escape(entry.key.state)}">{row}</tr>')
    host_rows = [f"<tr>{cells(placement_cells(place, language), PLACEMENT_TABLE)}</tr>" for place in places]
    title = html.escape(w["report_title"])
    return "\n".join([
        "<!DOCTYPE html>", f'<html lang="{language}">', "<head>", '<meta charset="utf-8">',
        f"<title>{title}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>", f"<h1>{title}</h1>",
        f'<p class="note">{html.escape(w["generated"].format(time=when(generated), ledger=ledger))}</p>',
        f"<h2>{html.escape(w['keys_title'].format(count=len(usage)))}</h2>",
        "<table>", head(USAGE_PAGE), *key_rows, "</table>",
        f"<h2>{html.escape(w['hosts_title'].format(count=len(places)))}</h2>",
        "<table>", head(PLACEMENT_TABLE), *host_rows, "</table>", "</body>", "</html>", "",
    ])
