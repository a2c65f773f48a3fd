"""What fleet operations need of a connection to one host: the one session interface.

transport.Session is the implementation (the only code that speaks WinRM); the engine and the licence reader
depend on this interface only, so neither imports pypsrp.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import tenacity

from remediate.errors import TransportError
from remediate.inventory import Host
from remediate.results import ScriptRun


class HostSession(Protocol):
    """One open connection to one host (one RunspacePool, reused for every script sent to that host)."""

    def open(self) -> Any: ...

    def close(self) -> None: ...

    def run(self, script: str, parameters: Mapping[str, Any], timeout_s: float) -> ScriptRun: ...


Connect = Callable[[Host], HostSession]  # an unopened session for a host


def is_transient(error: BaseException) -> bool:
    """A transport fault worth another try (refused, timeout, dropped, 5xx, quota)."""
    return isinstance(error, TransportError) and error.transient


def transient_retrying(
    stop: tenacity.stop.stop_base, *, initial_s: float, max_s: float, sleep: Callable[[float], None]
) -> tenacity.Retrying:
    """The one retry policy for transient transport faults: exponential backoff from `initial_s` up to
    `max_s`, plus up to one `initial_s` of jitter so that hosts that failed together spread out."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        stop=stop,
        wait=tenacity.wait_exponential(multiplier=initial_s, max=max_s) + tenacity.wait_random(0, initial_s),
        sleep=sleep,
        reraise=True,
    )
