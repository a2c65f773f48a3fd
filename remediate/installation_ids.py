"""`remediate keys iids`: each host's installation ID for phone activation, read-only, through the
installation-id template (what slmgr /dti shows), as the rows a person takes to the phone: host, installation ID,
activation ID and the key's last five characters (masked as every key is shown).

The activation centre answers each installation ID with a confirmation ID; `remediate run 0x80072EE2` with
``confirmation_id@HOST=...`` lines in ``--secrets-file`` deposits them (README "Phone activation").
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from remediate import resources
from remediate.i18n import N_, gettext_in, translated
from remediate.ledger.records import MASK
from remediate.render import Renderer
from remediate.results import ExitCategory
from remediate.secret import Redactor
from remediate.status import STATE_WORDS, HostStatus
from remediate.terminal import Column, print_fitted
from remediate.transport_text import tell

IID_TEMPLATE = "installation-id.ps1.j2"
COLUMNS = ("host", "computer_name", "installation_id", "activation_id", "partial_product_key", "channel", "state",
           "error")
IID_GROUP = 7  # the activation centre takes an installation ID in groups of seven digits [inf: phone wizard]

WORDS = {  # gettext messages: translated(WORDS, language)
    "title": N_("installation IDs of {count} host(s)"),
    "columns": (N_("host"), N_("installation ID"), N_("activation ID"), N_("key"), N_("state")),
    "read": N_("{read} of {count} installation ID(s) read; {licensed} already licensed"),
    "no_key": N_("no product key installed"),
}


@functools.cache
def iid_script() -> str:
    """The read-only script every host runs: the installation-id template, rendered once (it takes no values)."""
    template = Renderer([resources.templates_dir()]).environment.get_template(IID_TEMPLATE)
    return template.render(options={}, step={"id": "installation-id", "phase": "detect"})


def installation_id(status: HostStatus) -> str | None:
    value = status.data.get("installation_id")
    return str(value) if value else None


def iid_row(status: HostStatus) -> dict[str, Any]:
    """One host: the installation ID as Windows shows it (digits only), the key masked."""
    data = status.data
    tail = data.get("partial_product_key")
    error = status.error
    if error is None and not installation_id(status):
        error = str(WORDS["no_key"])
    return {
        "host": status.host.label,
        "computer_name": status.computer_name,
        "installation_id": installation_id(status),
        "activation_id": data.get("activation_id"),
        "partial_product_key": f"{MASK}{tail}" if tail else None,
        "channel": data.get("channel"),
        "state": status.state,
        "error": error,
    }


def grouped(iid: str) -> str:
    """`123456712345671…` -> `1234567-1234567-…`: read out a group at a time."""
    return "-".join(iid[start:start + IID_GROUP] for start in range(0, len(iid), IID_GROUP))


def iids_csv(statuses: Sequence[HostStatus], redactor: Redactor) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for status in statuses:
        row = iid_row(status)
        writer.writerow({name: "" if row[name] is None else redactor.text(str(row[name])) for name in COLUMNS})
    return buffer.getvalue()


def iids_json(statuses: Sequence[HostStatus], redactor: Redactor) -> str:
    return json.dumps(redactor.value([iid_row(status) for status in statuses]), ensure_ascii=False, indent=2)


def print_iids(statuses: Sequence[HostStatus], console: Console, redactor: Redactor, language: str = "en") -> None:
    """The table: one row per host, the installation ID in groups of seven; then how many were read."""
    words = translated(WORDS, language)
    rows = []
    for status in statuses:
        row = iid_row(status)
        iid = row["installation_id"]
        state = gettext_in(language, status.state) if status.state in STATE_WORDS else status.state
        if iid is None:
            state = tell(status.error, language) if status.error else str(words["no_key"])
        # The key's last five characters alone, as `status` shows them (the CSV and JSON write the masked key).
        rows.append((status.label, grouped(iid) if iid else "", row["activation_id"] or "",
                     str(status.data.get("partial_product_key") or ""), state))
    columns = [
        Column(header, rank=rank, atom=number != 4, cells=[Text(redactor.text(row[number])) for row in rows])
        for number, (header, rank) in enumerate(zip(words["columns"], (0, 0, 1, 2, 3), strict=True))
    ]
    print_fitted(console, columns, str(words["title"]).format(count=len(statuses)))
    read = sum(1 for status in statuses if installation_id(status))
    licensed = sum(1 for status in statuses if status.licensed)
    console.print(Text(str(words["read"]).format(read=read, count=len(statuses), licensed=licensed)))


def iids_category(statuses: Sequence[HostStatus]) -> ExitCategory:
    """OK when every host gave its installation ID, UNREACHABLE when none answered (or the credentials were
    refused), else FAILED."""
    if statuses and all(status.unreachable for status in statuses):
        return ExitCategory.UNREACHABLE
    if any(status.auth_failed for status in statuses):
        return ExitCategory.UNREACHABLE
    return ExitCategory.OK if all(installation_id(status) for status in statuses) else ExitCategory.FAILED
