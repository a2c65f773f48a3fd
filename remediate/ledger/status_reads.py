"""`remediate status` into the ledger: which partial key each host showed, and when it was last seen."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from remediate.errors import UsageError
from remediate.ledger.location import in_use
from remediate.ledger.store import Ledger
from remediate.status import HostStatus

_PARTIAL_KEY = re.compile(r"[0-9A-Za-z]{5}")

WORDS = {
    "en": "warning: the ledger did not record this status read: {error}",
    "ja": "警告: この状態の読み取りは台帳に記録されませんでした: {error}",
}


def record_status_reads(statuses: Sequence[HostStatus], ledger_url: str | None, say: Callable[[str], None],
                        language: str = "en") -> int:
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
        say(WORDS["ja" if language == "ja" else "en"].format(error=error.message))
        return 0
    return len(seen)
