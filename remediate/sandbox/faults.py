"""Transport faults of an emulated host, as seeded scenario data (owned by the WinRM server)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Literal


@dataclass
class TransportFaults:
    """What goes wrong on the wire for one host, and the WinRM service settings that decide what it refuses.

    Fault defaults: nothing goes wrong. Setting defaults: Windows' own (see each one).
    Counted faults (`*_first`) hit the first N matching requests and then stop, which makes retries testable;
    rates (`*_rate`, 0.0-1.0) draw from the fleet's seeded random generator, which keeps a run reproducible.
    """

    latency_ms: int = 0  # added to every request
    refuse_connections: bool = False  # host down: TCP connections refused
    unauthorized: bool = False  # every request answered 401, as with wrong credentials
    http_5xx_first: int = 0  # the first N requests answered HTTP 500 without a WS-Man body
    http_5xx_rate: float = 0.0
    drop_first: int = 0  # the first N Receive requests for a command: connection closed without an answer
    drop_rate: float = 0.0
    # the first N command Receives never complete (the client's timeout must fire)
    hang_receive_first: int = 0
    not_up_for_s: float = 0.0  # refuse connections for the first N seconds after start (a just-imaged host)
    # WinRM's quotas and AllowUnencrypted, with Windows' defaults ("Installation and configuration for Windows
    # Remote Management", learn.microsoft.com/windows/win32/winrm/installation-and-configuration-for-windows-
    # remote-management; reference/winrm-sandbox-notes.md, "Quota fault codes"): 30 shells per user since Server
    # 2012, 1500 concurrent operations per user, unencrypted traffic refused.
    max_shells_per_user: int = 30  # winrm/config/winrs MaxShellsPerUser
    max_concurrent_operations_per_user: int = 1500  # winrm/config/service MaxConcurrentOperationsPerUser
    allow_unencrypted: bool = False  # winrm/config/service AllowUnencrypted (HTTPS is always encrypted)


FaultKind = Literal["http_5xx", "drop", "hang"]


class FaultState:
    """The live counters and seeded random draws of one host's TransportFaults (shared by its connections)."""

    def __init__(self, faults: TransportFaults, rng: random.Random) -> None:
        self.faults = faults
        self._rng = rng
        self._lock = threading.Lock()
        self._left: dict[FaultKind, int] = {
            "http_5xx": faults.http_5xx_first,
            "drop": faults.drop_first,
            "hang": faults.hang_receive_first,
        }

    def _take(self, kind: FaultKind, rate: float) -> bool:
        """Spend one of the first-N faults of this kind; once they are spent, draw at the rate."""
        with self._lock:
            if self._left[kind] > 0:
                self._left[kind] -= 1
                return True
            return rate > 0 and self._rng.random() < rate

    def take_http_5xx(self) -> bool:
        """Whether this WS-Man request is answered with a bare HTTP 500."""
        return self._take("http_5xx", self.faults.http_5xx_rate)

    def take_drop(self) -> bool:
        """Whether this command Receive loses its connection without an answer."""
        return self._take("drop", self.faults.drop_rate)

    def take_hang(self) -> bool:
        """Whether this command Receive is never answered."""
        return self._take("hang", 0.0)
