"""A MAK's activation budget: the reserve kept back, and the check before a run spends activations.

A run in progress holds the activations it plans (store.Ledger.check_budget with hold_for): another run at the
same time sees them as spent, so two runs cannot both plan the last activations.

The budget is what the operator entered (the activations the volume-licensing portal shows as remaining), less
each activation remediate has observed since. A run may use the budget less a reserve: `--mak-reserve 5%`
(the default; rounded up, so a budget of 20 keeps 1 back) or a number of activations (`--mak-reserve 3`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from remediate.errors import UsageError
from remediate.i18n import _

DEFAULT_RESERVE = "5%"


@dataclass(frozen=True)
class Reserve:
    """Activations kept back: a percentage of the budget left, or a fixed count."""

    percent: float | None = None
    count: int | None = None

    @classmethod
    def parse(cls, text: str) -> Reserve:
        value = text.strip()
        try:
            if value.endswith("%"):
                percent = float(value[:-1])
                if 0 <= percent <= 100:
                    return cls(percent=percent)
            else:
                count = int(value)
                if count >= 0:
                    return cls(count=count)
        except ValueError:
            pass
        raise UsageError(_("--mak-reserve {text!r}: expected a percentage such as 5% or a number of "
                           "activations").format(text=text))

    def of(self, budget: int) -> int:
        if self.count is not None:
            return self.count
        return math.ceil(max(budget, 0) * (self.percent or 0) / 100)

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


@dataclass(frozen=True)
class Availability:
    """What a run may spend of one key: the budget left, the reserve, and the difference."""

    budget: int
    reserve: int
    reserve_rule: str
    held: int = 0  # activations other runs in progress count on
    holding_runs: int = 0

    @property
    def available(self) -> int:
        return max(self.budget - self.reserve - self.held, 0)


def check(label: str, masked: str, availability: Availability, needed: int) -> None:
    """Raise UsageError (exit 2, nothing sent) with the numbers when `needed` activations do not fit."""
    if needed <= availability.available:
        return
    held = (_(" and {held} held by {runs} run(s) in progress").format(held=availability.held,
                                                                       runs=availability.holding_runs)
            if availability.held else "")
    raise UsageError(
        _("key {label} ({masked}): {needed} host(s) need an activation, but the budget has {budget} left, less "
          "a reserve of {reserve} ({reserve_rule}){held}: {available} available, {short} short; nothing was "
          "sent").format(label=label, masked=masked, needed=needed, budget=availability.budget,
                         reserve=availability.reserve, reserve_rule=availability.reserve_rule, held=held,
                         available=availability.available, short=needed - availability.available),
        hint=_("ask for more activations and run `remediate keys set-budget {label} N`, run fewer hosts, or "
               "lower --mak-reserve").format(label=label),
    )
