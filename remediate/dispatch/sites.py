"""Sites: each host's site (its `site=` variable, which an inventory group's vars may set), and site names."""

from __future__ import annotations

import re
from collections.abc import Sequence

from remediate.errors import UsageError
from remediate.plan import HostPlan

SITE_VARIABLE = "site"
SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def check_site(name: str) -> str:
    if not SITE_NAME.fullmatch(name):
        raise UsageError(f"site {name!r}: a site name is letters, digits, '_', '.' and '-' (at most 63)")
    return name


def sites_of(host_plans: Sequence[HostPlan]) -> dict[str, list[int]]:
    """Site name -> the indexes of its hosts, in plan order. UsageError when a host has no site."""
    sites: dict[str, list[int]] = {}
    missing = []
    for index, host_plan in enumerate(host_plans):
        site = host_plan.host.variables.get(SITE_VARIABLE)
        if not site:
            missing.append(host_plan.label)
            continue
        sites.setdefault(check_site(site), []).append(index)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise UsageError(f"--dispatch: {len(missing)} host(s) have no site: {shown}",
                         hint="give each host a site= variable (an inventory group's vars may set it)")
    return sites
