"""How `remediate status` shows the fleet: the table a person reads and the CSV a spreadsheet sorts."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from remediate import i18n
from remediate.i18n import N_, _
from remediate.inventory import Host
from remediate.secret import Redactor
from remediate.status import HostStatus, edition, state_word
from remediate.terminal import Column, print_fitted
from remediate.transport_text import tell

COLUMNS = (N_("host"), N_("state"), N_("code"), N_("meaning"), N_("playbook"), N_("grace"), N_("edition"), N_("key"),
           N_("KMS"), N_("note"))


# Which columns go first when the terminal is narrow (lowest first; 0: never): the meaning column holds the
# error of a host that could not be read, so it outlasts every column but the host and its state; the note says
# why a host is handed over (Office, a shared Client Machine ID, a KMS host too old), so it outlasts the playbook.
RANKS = (0, 0, 8, 9, 6, 3, 2, 1, 4, 7)
PROSE = (3, 9)  # the meaning and note columns: wrapped at spaces; the others never split


def print_status(
    statuses: Sequence[HostStatus], console: Console, redactor: Redactor | None = None, language: str | None = None
) -> None:
    """The `remediate status` table: one row per host, then how many are licensed. A column no host has a
    value for is left out (a fleet that cannot be reached has no edition, key or KMS host to show), and so are
    the least needed ones when the terminal is narrow (terminal.print_fitted). The note column says why a host is
    handed over beside its code (HostStatus.notes). Its words are in the current language, and so are the codes'
    meanings (or in `language`)."""
    redactor = redactor or Redactor()
    language = language or i18n.language()
    rows = []
    for status in statuses:
        data = status.data
        kms = str(data.get("kms_machine") or "")
        if not kms and data.get("discovered_kms_machine"):
            kms = _("{name} (discovered)").format(name=data["discovered_kms_machine"])
        rows.append((
            status.label,
            state_word(status.state),
            str(status.code or ""),
            tell(status.error, language) if status.error else status.meaning(language),
            str(status.playbook or ""),
            grace_text(status.grace_minutes),
            edition(str(data.get("name") or "")),
            str(data.get("partial_product_key") or ""),
            str(kms),
            "\n".join(status.notes(language)),
        ))
    columns = []
    for number, header in enumerate(map(_, COLUMNS)):
        if number >= 2 and not any(row[number] for row in rows):
            continue
        cells = [Text(redactor.text(row[number])) for row in rows]
        columns.append(Column(header, rank=RANKS[number], atom=number not in PROSE, cells=cells))
    print_fitted(console, columns, _("licence state of {count} host(s)").format(count=len(statuses)))
    licensed = sum(1 for status in statuses if status.licensed)
    console.print(Text(_("{licensed} of {count} licensed").format(licensed=licensed, count=len(statuses))))


def grace_text(minutes: int | None) -> str:
    """GracePeriodRemaining for a person: `29 d 23 h`, `5 h 12 min`, `40 min`; empty when none is left or known."""
    if not minutes or minutes <= 0:
        return ""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    shown = [_("{days} d").format(days=days) if days else "", _("{hours} h").format(hours=hours) if hours else ""]
    if not days and mins:
        shown.append(_("{minutes} min").format(minutes=mins))
    return " ".join(part for part in shown if part) or _("{minutes} min").format(minutes=mins)


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


