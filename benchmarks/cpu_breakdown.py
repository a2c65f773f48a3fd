"""Where the controller's CPU goes: the CPU time each thread spends inside chosen layers, per host.

Each layer is a function (of remediate, pypsrp, requests, urllib3 or ElementTree) wrapped for the duration of a
run; a call's cost is the calling thread's CPU time (time.thread_time) from entry to return, so other threads'
work is never counted in it. Figures are inclusive: a layer's time contains the layers it calls (urllib3's is part
of requests', which is part of WS-Man's). A call made from within another call of the same layer counts once.
The wrappers cost some CPU themselves (a few microseconds a call); compare layers within one run.
"""

from __future__ import annotations

import functools
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pypsrp.encryption
import pypsrp.messages
import pypsrp.powershell
import pypsrp.serializer
import pypsrp.wsman
import requests.adapters
import requests.sessions
import urllib3.connectionpool

from remediate import audit, engine, transport

# (owner, attribute, what the line says), in the order they are printed; an indent marks what a layer contains.
LAYERS: tuple[tuple[Any, str, str], ...] = (
    (transport.Session, "open", "opening the session (log on, pool Create + Receive)"),
    (transport._Transport, "_log_on_and_send", "  logging on (NTLM, the 401 round trip, the first request)"),
    (transport.Session, "run_batch", "invocations (Command + Receive each)"),
    (transport.Session, "close", "closing the session (in the background)"),
    (pypsrp.wsman.WSMan, "invoke", "WS-Man requests (all of them)"),
    (requests.sessions.Session, "send", "  HTTP: requests"),
    (urllib3.connectionpool.HTTPConnectionPool, "urlopen", "    of which urllib3 and http.client"),
    (pypsrp.encryption.WinRMEncryption, "wrap_message", "  sealing messages (NTLM)"),
    (pypsrp.encryption.WinRMEncryption, "unwrap_message", "  unsealing answers (NTLM)"),
    (pypsrp.wsman.WSMan, "_create_header", "  WS-Man headers built"),
    (ElementTree, "tostring", "XML written (envelopes and PSRP objects)"),
    (ElementTree, "fromstring", "XML read"),
    (pypsrp.powershell.Fragmenter, "defragment", "PSRP messages received (defragment, unpack, deserialize)"),
    (pypsrp.messages.Message, "pack", "PSRP messages built (pack, serialize)"),
    (audit.AuditLog, "append", "audit events written"),
    (engine.HostRun, "_decide", "the whole host, but its close (engine included)"),
)


@dataclass
class Layer:
    label: str
    seconds: float = 0.0
    calls: int = 0


@dataclass
class Breakdown:
    layers: list[Layer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lines(self, hosts: int) -> list[str]:
        hosts = max(1, hosts)
        return [f"  {layer.label:<62s} {1000 * layer.seconds / hosts:6.2f} ms per host  "
                f"{layer.calls / hosts:5.1f} calls" for layer in self.layers]


@contextmanager
def measuring() -> Iterator[Breakdown]:
    """Wraps every layer while the block runs; the Breakdown holds the totals once it has ended."""
    breakdown = Breakdown()
    originals: list[tuple[Any, str, Any]] = []  # (owner, name, its own attribute, or None if inherited)
    for owner, name, label in LAYERS:
        layer = Layer(label)
        breakdown.layers.append(layer)
        originals.append((owner, name, vars(owner).get(name)))
        setattr(owner, name, _timed(getattr(owner, name), layer, breakdown._lock))
    try:
        yield breakdown
    finally:
        for owner, name, own in reversed(originals):
            if own is None:
                delattr(owner, name)
            else:
                setattr(owner, name, own)


def _timed(function: Callable[..., Any], layer: Layer, lock: threading.Lock) -> Callable[..., Any]:
    inside = threading.local()

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        if getattr(inside, "active", False):  # counted by the outer call
            return function(*args, **kwargs)
        inside.active = True
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            inside.active = False
            with lock:
                layer.seconds += spent
                layer.calls += 1

    return timed
