"""How `remediate status` shows the fleet: the table a person reads and the CSV a spreadsheet sorts."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from remediate.inventory import Host
from remediate.reasons import in_language
from remediate.secret import Redactor
from remediate.status import STATE_NAMES_JA, HostStatus, edition
from remediate.terminal import Column, print_fitted

WORDS = {  # the status table in the user's language
    "en": {
        "title": "licence state of {count} host(s)",
        "columns": ("host", "state", "code", "meaning", "playbook", "grace", "edition", "key", "KMS"),
        "licensed": "{licensed} of {count} licensed",
        "discovered": "{name} (discovered)",
    },
    "ja": {
        "title": "{count} 台のホストのライセンス状態",
        "columns": ("ホスト", "状態", "コード", "意味", "プレイブック", "猶予", "エディション", "キー", "KMS"),
        "licensed": "{count} 台中 {licensed} 台がライセンス認証済み",
        "discovered": "{name} (DNS で検出)",
    },
}


# Which columns go first when the terminal is narrow (lowest first; 0: never): the meaning column holds the
# error of a host that could not be read, so it outlasts every column but the host and its state.
RANKS = (0, 0, 7, 8, 6, 3, 2, 1, 4)
PROSE = 3  # the meaning column's position in WORDS[...]["columns"]: wrapped at spaces; the others never split


def print_status(
    statuses: Sequence[HostStatus], console: Console, redactor: Redactor | None = None, language: str = "en"
) -> None:
    """The `remediate status` table: one row per host, then how many are licensed. A column no host has a
    value for is left out (a fleet that cannot be reached has no edition, key or KMS host to show), and so are
    the least needed ones when the terminal is narrow (terminal.print_fitted)."""
    redactor = redactor or Redactor()
    words = in_language(WORDS, language)
    rows = []
    for status in statuses:
        data = status.data
        kms = str(data.get("kms_machine") or "")
        if not kms and data.get("discovered_kms_machine"):
            kms = str(words["discovered"]).format(name=data["discovered_kms_machine"])
        rows.append((
            status.label,
            STATE_NAMES_JA.get(status.state, status.state) if language == "ja" else status.state,
            str(status.code or ""),
            status.error or status.meaning(language) or status.office_note(language),
            str(status.playbook or ""),
            grace_text(status.grace_minutes, language),
            edition(str(data.get("name") or "")),
            str(data.get("partial_product_key") or ""),
            str(kms),
        ))
    columns = []
    for number, header in enumerate(words["columns"]):
        if number >= 2 and not any(row[number] for row in rows):
            continue
        cells = [Text(redactor.text(row[number])) for row in rows]
        columns.append(Column(header, rank=RANKS[number], atom=number != PROSE, cells=cells))
    print_fitted(console, columns, str(words["title"]).format(count=len(statuses)))
    licensed = sum(1 for status in statuses if status.licensed)
    console.print(Text(str(words["licensed"]).format(licensed=licensed, count=len(statuses))))


def grace_text(minutes: int | None, language: str = "en") -> str:
    """GracePeriodRemaining for a person: `29 d 23 h`, `5 h 12 min`, `40 min`; empty when none is left or known."""
    if not minutes or minutes <= 0:
        return ""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if language == "ja":
        units = ("日", "時間", "分")
        parts = [(days, units[0]), (hours, units[1])] if days else [(hours, units[1]), (mins, units[2])]
        return " ".join(f"{value}{unit}" for value, unit in parts if value) or f"{mins}分"
    parts = [(days, "d"), (hours, "h")] if days else [(hours, "h"), (mins, "min")]
    return " ".join(f"{value} {unit}" for value, unit in parts if value) or f"{mins} min"


def status_csv(statuses: Sequence[HostStatus], redactor: Redactor | None = None) -> str:
    """`remediate status --output csv`: a header, then one row per host (HostStatus.to_row), masked."""
    redactor = redactor or Redactor()
    rows = [status.to_row() for status in statuses]
    columns = list(rows[0]) if rows else list(HostStatus(Host("-")).to_row())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else redactor.text(_cell(value)) for key, value in row.items()})
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


