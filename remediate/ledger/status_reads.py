"""`remediate status` into the ledger: which partial key each host showed, and when it was last seen."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from remediate.errors import UsageError
from remediate.i18n import N_, _, gettext_in
from remediate.ledger.location import in_use
from remediate.ledger.store import Ledger
from remediate.status import HostStatus

_PARTIAL_KEY = re.compile(r"[0-9A-Za-z]{5}")

NOT_RECORDED = N_("warning: the ledger did not record this status read: {error}")


def record_status_reads(statuses: Sequence[HostStatus], ledger_url: str | None, say: Callable[[str], None],
                        language: str | None = None) -> int:
    """Record every partial key read (none when no ledger is in use); how many were recorded. A ledger that
    cannot be written is a warning: the read itself succeeded."""
    seen = [(status.host.label, str(status.data.get("partial_product_key") or ""), status.data.get("name"))
            for status in statuses]
    seen = [(host, five, product) for host, five, product in seen if _PARTIAL_KEY.fullmatch(five)]
    if not seen or not in_use(ledger_url):
        return 0
    try:
        with Ledger.open(ledger_url) as ledger:
            for host, five, product in seen:
                ledger.record_seen(host, five, product=str(product) if product else None)
    except UsageError as error:
        said = gettext_in(language, NOT_RECORDED) if language else _(NOT_RECORDED)  # default: the current language
        say(said.format(error=error.message))
        return 0
    return len(seen)
