"""Modelled time: how long the slow things a Windows host does take, and the one way a command spends it.

A command that waits (Start-Sleep, slmgr /ato against a KMS host that never answers, a full
SoftwareLicensingProduct enumeration, DISM /Set-Edition) waits for real, on the worker thread that runs the
command: the WinRM server keeps answering Receives meanwhile (w:TimedOut while nothing came, WinRS output so far
with CommandState Running), and other hosts are not held up. The same host's other sessions wait, as a host runs
one pipeline or command line at a time, and each waiting command holds one of the process's engine worker threads
(winrm/workers.py). A client that stops the command (the PSRP stop signal, a WinRS Ctrl+C or Terminate) ends the
wait at once through the command's seam.PipelineControl, the server's one hold on what runs, as stopping a pipeline
ends its native command on Windows; the command then ends with Stopped (seam.PipelineStopped).

The durations of a host are scenario data (scenario.py, a group's `durations:`); every one defaults to 0, so a
scenario that sets none runs as fast as before. Sources of the realistic values are in
remediate/sandbox/scenarios/README.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from remediate.sandbox.seam import PipelineControl, PipelineStopped

if TYPE_CHECKING:
    from remediate.sandbox.windows.state import World


@dataclass
class Durations:
    """Seconds one host takes for its slow operations (0: at once)."""

    # A TCP connection attempt to an address that never answers (a firewall that drops, a host that is down):
    # each KMS host slmgr /ato tries in vain, and Test-NetConnection's TCP test.
    tcp_connect_timeout_s: float = 0.0
    # Get-CimInstance SoftwareLicensingProduct without -Filter: every licence of the host, with its properties.
    licensing_enumeration_s: float = 0.0
    # DISM /Online /Set-Edition: staging the target edition's packages.
    dism_set_edition_s: float = 0.0


DURATION_FIELDS = tuple(f.name for f in fields(Durations))


@dataclass
class Running:
    """What the command running on this thread was given: the server's hold on it (None: nothing can stop it), and
    where output so far goes."""

    control: PipelineControl | None = None
    # Called before a wait: sends the output the command has produced so far (WinRS streams it with Running).
    publish: Callable[[], None] | None = None
    # The console text of the programs running inside the command line now (powershell.exe in cmd.exe), each
    # what is certain of its stdout so far; publish adds them to what cmd.exe itself has written.
    consoles: list[Callable[[], str]] = field(default_factory=list)


_running: ContextVar[Running | None] = ContextVar("sandbox_running_command", default=None)


@contextmanager
def running(command: Running) -> Iterator[Running]:
    """Run a command (on this thread) under `command`'s control and output. A nested pipeline, run on its parent's
    thread, runs under its own; the parent's comes back after it."""
    token = _running.set(command)
    try:
        yield command
    finally:
        _running.reset(token)


@contextmanager
def console(text_so_far: Callable[[], str]) -> Iterator[None]:
    """While a program runs inside the current command line, its stdout so far is part of what is published."""
    command = _running.get()
    if command is None:
        yield
        return
    command.consoles.append(text_so_far)
    try:
        yield
    finally:
        command.consoles.remove(text_so_far)


def consoles_so_far() -> str:
    """The stdout so far of the programs running inside the current command line."""
    command = _running.get()
    return "".join(text() for text in command.consoles) if command is not None else ""


def control() -> PipelineControl | None:
    """The hold on the command running on this thread (a powershell.exe it starts stops with it)."""
    command = _running.get()
    return command.control if command is not None else None


def spend(world: World, seconds: float) -> None:
    """Take `seconds` of real time, unless the client stops the command first (then raise PipelineStopped).

    A world whose true time is frozen (reproducible output) moves its clock forward by the time spent instead.
    """
    command = _running.get()
    hold = command.control if command is not None else None
    if hold is not None and hold.stopping:
        raise PipelineStopped()
    if seconds <= 0:
        return
    if command is not None and command.publish is not None:
        command.publish()
    began = time.monotonic()
    if hold is None:
        time.sleep(seconds)
    elif hold.wait(seconds):
        _advance_frozen(world, time.monotonic() - began)
        raise PipelineStopped()
    _advance_frozen(world, seconds)


def _advance_frozen(world: World, seconds: float) -> None:
    if world.frozen_at is not None:
        with world.lock:
            world.elapsed_s += seconds
