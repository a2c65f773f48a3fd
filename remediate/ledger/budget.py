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
        raise UsageError(f"--mak-reserve {text!r}: expected a percentage such as 5% or a number of activations")

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
    held = (f" and {availability.held} held by {availability.holding_runs} run(s) in progress"
            if availability.held else "")
    raise UsageError(
        f"key {label} ({masked}): {needed} host(s) need an activation, but the budget has {availability.budget} "
        f"left, less a reserve of {availability.reserve} ({availability.reserve_rule}){held}: "
        f"{availability.available} available, {needed - availability.available} short; nothing was sent",
        hint=f"ask for more activations and run `remediate keys set-budget {label} N`, run fewer hosts, or lower "
        "--mak-reserve",
    )
