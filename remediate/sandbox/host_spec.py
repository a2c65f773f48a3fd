"""HostSpec: one emulated host to start, as a scenario builds it and a Fleet serves it."""

from __future__ import annotations

from dataclasses import dataclass, field

from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.seam import HostEngine


@dataclass
class HostSpec:
    """One host to emulate: its computer name, what runs behind its WinRM service, its transport faults."""

    computer_name: str
    engine: HostEngine
    faults: TransportFaults = field(default_factory=TransportFaults)
