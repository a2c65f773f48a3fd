"""What the ledger hands out: its records of keys, uses, placements and counts (no key in them, only the last
five characters), and the checks of the names and texts an operator gives it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from remediate.errors import UsageError
from remediate.i18n import _
from remediate.ledger.schema import ACTIVE
from remediate.productkey import has_product_key

MASK = "XXXXX-XXXXX-XXXXX-XXXXX-"
_LABEL = re.compile(r"[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]{0,99}")


@dataclass(frozen=True)
class KeyRecord:
    """One key as the ledger knows it. Holds no key: its last five characters and fingerprint only."""

    id: int
    label: str
    fingerprint: str
    last_five: str
    channel: str
    product: str | None
    budget: int | None
    state: str
    state_code: str | None
    state_changed_at: datetime | None
    encrypted: bool
    added_at: datetime
    added_by: str
    last_used_at: datetime | None

    @property
    def masked(self) -> str:
        return MASK + self.last_five

    @property
    def usable(self) -> bool:
        return self.state == ACTIVE


@dataclass(frozen=True)
class UseRecord:
    """One install or activation remediate performed."""

    label: str
    last_five: str
    host: str
    action: str
    at: datetime
    run_id: str
    operator: str
    ok: bool
    result_code: str | None

    @property
    def result(self) -> str:
        return self.result_code or ("ok" if self.ok else "failed")


@dataclass(frozen=True)
class Placement:
    """A key on a host: what remediate did there with it last, and when a licence read last saw it."""

    host: str
    last_five: str
    label: str | None
    channel: str | None
    last_action: str | None
    last_action_at: datetime | None
    run_id: str | None
    result: str | None
    last_seen: datetime | None

    @property
    def masked(self) -> str:
        return MASK + self.last_five

    @property
    def last_known(self) -> datetime:
        times = [at for at in (self.last_action_at, self.last_seen) if at is not None]
        return max(times) if times else datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class KeyUsage:
    """A key with its counts: the rows of `keys report`."""

    key: KeyRecord
    installs: int
    activations: int
    failures: int
    hosts: int


def check_label(label: str) -> str:
    """A label: 1 to 100 printable characters, not starting with a space, and never a key."""
    label = label.strip()
    if has_product_key(label):
        raise UsageError(_("a label must not be a product key: name the key, e.g. office-mak-2026"))
    if not _LABEL.fullmatch(label):
        raise UsageError(_("label {label!r}: 1 to 100 printable characters").format(label=label))
    return label


def check_text(text: str, what: str) -> str:
    text = " ".join(text.split())
    if has_product_key(text):
        raise UsageError(_("the {what} must not contain a product key").format(what=what))
    return text[:200]
