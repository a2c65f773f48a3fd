"""Durations as people write them: `90`, `500ms`, `20s`, `10m`, `1h` -> seconds.

One parser for every duration remediate reads: a playbook's `retry.delay` and `timeout` (its schema allows
ms, s and m) and the command line's `--wait-for-winrm` (which also takes h).
"""

from __future__ import annotations

import re
import unicodedata

from remediate.i18n import _

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$")
_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value: str | float | int) -> float:
    """A number of seconds, or a number with a unit (ms, s, m, h). Raises ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(_("not a duration: {value!r}").format(value=value))
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(_("a duration cannot be negative: {value!r}").format(value=value))
        return float(value)
    # NFKC: full-width digits and letters, as a Japanese IME types them (１０ｍ), read as 10m.
    match = _DURATION.match(unicodedata.normalize("NFKC", value).strip().lower())
    if not match:
        raise ValueError(_("not a duration: {value!r}").format(value=value))
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * _SECONDS_PER_UNIT[unit]
