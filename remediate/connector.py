"""What fleet operations need of a connection to one host: the one session interface.

transport.Session is the implementation (the only code that speaks WinRM); the engine and the licence reader
depend on this interface only, so neither imports pypsrp.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import tenacity

from remediate.errors import TransportError
from remediate.inventory import Host
from remediate.results import ScriptRun


@dataclass(frozen=True)
class ScriptCall:
    """One step as a host is to run it: its script, its values (bound as parameters) and its time limit."""

    script: str
    parameters: Mapping[str, Any]
    timeout_s: float


@dataclass
class BatchRun:
    """What one invocation of several scripts gave back: a run for each script that finished, in order. A script
    that failed the pipeline (a throw) is the last one with a run: those after it never ran. `error`: the
    transport fault or timeout that cut the invocation short (the scripts without a run may or may not have run).
    """

    runs: list[ScriptRun] = field(default_factory=list)
    error: TransportError | None = None


class HostSession(Protocol):
    """One open connection to one host (one RunspacePool, reused for every script sent to that host)."""

    def open(self) -> Any: ...

    def close(self) -> None: ...

    def run(self, script: str, parameters: Mapping[str, Any], timeout_s: float) -> ScriptRun: ...

    def run_batch(self, calls: Sequence[ScriptCall]) -> BatchRun:
        """Several read-only scripts as one invocation (one Command, then Receives): each keeps its own result,
        errors and warnings, and a script that throws does not hide the results of those before it."""
        ...


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
