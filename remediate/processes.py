"""`remediate run --processes N`: the hosts of a run spread over N worker processes (process_worker.py), each
running its share of --forks on its own threads, so that a run uses more than one core (the controller's work
per host, pypsrp's and requests' message handling, is CPU-bound; one process uses one core).

This process stays the run's one writer, as a dispatched run's controller is (dispatch/collector.py, the same
decisions and messages, over pipes instead of Redis):
- it keeps the audit log: every event of every host in the order it arrives (a host's events in its order), and
  a worker sends a changing step only once this process has written its `step_started` to disk (write-ahead);
- it grants each host's start, so that Ctrl-C, --max-fail-percent and --max-auth-failures hold across the
  processes: the first Ctrl-C starts no new host and tells the workers to start no new step; the second
  abandons (the hosts in flight are recorded as a local run records them, the workers are ended);
- --host-timeout is each host's engine's, in its worker process, as in a local run;
- a worker process that dies: each host it had started ends `failed` (state unknown) if a change had been sent,
  `skipped` otherwise, never run again; the hosts it had not started go to the other workers.

--forks keeps its meaning (hosts in flight at once, over all processes): each process gets an equal share of it.
Processes are forked from a `forkserver` (a fresh interpreter: the run's threads are alive already, and fork
would copy their locks into the workers). Each is given the run's playbooks and scripts as it starts; a host's
task (its secret values and the credentials) goes over its pipe when the host is sent: nothing secret is written
to disk.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import selectors
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from remediate import audit as audit_log
from remediate.codes import ErrorCode
from remediate.dispatch.collector import Collector
from remediate.dispatch.payload import Playbooks, task_out
from remediate.engine import EngineOptions, KeyWatcher, NoObserver, Observer
from remediate.interrupt import on_ctrl_c
from remediate.plan import HostPlan
from remediate.playbook import Playbook
from remediate.process_worker import Setup, pickled, serve
from remediate.reasons import Reason
from remediate.results import HostReport, RunReport
from remediate.transport import ConnectionOptions, Credentials

# Starting the worker processes costs about 0.7 s of CPU (the fork server's imports, once, then a fork each), and
# a host some 5 ms more of CPU over processes than in one (its events read off a pipe by the writer, its own
# engine in its worker): with cores to spare a second process pays for itself from about 100 hosts; twice that
# leaves a margin. Where the cores are busy already (the README's figures: a sandbox on the same two cores), it
# does not pay at all: --processes 1.
HOSTS_PER_PROCESS = 200
LATE_S = 30.0  # a host still without an outcome this long after its --host-timeout: its worker is hung (lost)
READ_AT_ONCE = 500  # messages read from one worker before the others are looked at


def process_count(requested: int | None, hosts: int, forks: int) -> int:
    """How many worker processes a run uses: `requested` (--processes), or, when not given, one per core but
    no more than one per HOSTS_PER_PROCESS hosts; never more than --forks or the hosts. 1: the run stays in
    this process (no worker process at all)."""
    if requested is None:
        requested = min(os.cpu_count() or 1, hosts // HOSTS_PER_PROCESS)
    return max(1, min(requested, forks, hosts))


class PlanPlaybooks:
    """The playbooks of a run given no library: those of its plans (no other playbook claims a code)."""

    def __init__(self, host_plans: Sequence[HostPlan]) -> None:
        self._by_code = {host_plan.playbook.code: host_plan.playbook for host_plan in host_plans}

    def find(self, code: ErrorCode) -> Playbook | None:
        return self._by_code.get(code)


@dataclass
class _Worker:
    name: str
    process: BaseProcess
    conn: Connection
    threads: int
    alive: bool = True
    hosts: set[int] = field(default_factory=set)  # indexes of the hosts sent to it and not done

    def __post_init__(self) -> None:
        self._readable = select.poll()
        self._readable.register(self.conn.fileno(), select.POLLIN)

    def has_more(self) -> bool:
        """A message (or the end of the pipe) is there to read at once (Connection.poll builds a selector each
        time: this is called once per message)."""
        return bool(self._readable.poll(0))


class ProcessRun:
    """One run over worker processes."""

    def __init__(
        self,
        host_plans: Sequence[HostPlan],
        processes: int,
        *,
        audit: audit_log.AuditLog,
        options: EngineOptions,
        connection: ConnectionOptions,
        credentials: Credentials | None,
        keys: KeyWatcher | None,
        playbooks: Playbooks,
        observer: Observer | None = None,
    ) -> None:
        self.host_plans = host_plans
        self.processes = processes
        self.options = options
        self.connection = connection
        self.credentials = credentials
        self.keys = keys
        self.playbooks = playbooks
        self.collector = Collector(host_plans, [""] * len(host_plans), audit=audit, options=options, keys=keys,
                                   observer=observer or NoObserver())
        self.pending: deque[int] = deque(range(len(host_plans)))
        self.workers: list[_Worker] = []
        self._ready = selectors.DefaultSelector()  # every worker's pipe and sentinel, registered once
        self._told = ""

    def run(self, code: str, arguments: Sequence[str] = (), plan_sha256: str | None = None,
            approvers: Sequence[Mapping[str, str]] = (), decided: Sequence[HostReport] = (),
            order: Sequence[str] | None = None,
            prelude: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> RunReport:
        """As engine.Engine.run_hosts, the hosts run by the worker processes."""
        started = time.monotonic()
        with on_ctrl_c(self.collector.interrupt):
            self.collector.run_started(code, arguments, plan_sha256, approvers, decided, prelude)
            self._start_workers()
            try:
                self._loop()
            finally:
                self._end_workers()
        return self.collector.run_finished(code, started, order)

    # --- worker processes ----------------------------------------------------------------------------------

    def _start_workers(self) -> None:
        # forkserver: one fresh interpreter (no thread of this run in it) imports the worker's modules once, and
        # each worker process is forked from it, single-threaded; spawn would pay the imports once per process.
        # remediate.cli too: each process started imports the program's main module again (multiprocessing's
        # spawn preparation), the `remediate` script, which imports the CLI; preloaded, that costs nothing.
        # (Preloading "__main__" itself does not work: Python 3.11's fork server never gets the main path.)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["remediate.process_worker", "remediate.cli"])
        scripts = {step.script_sha256: step.script for plan in self.host_plans for step in plan.steps}
        forks = max(1, self.options.forks)
        for number in range(self.processes):
            threads = forks // self.processes + (1 if number < forks % self.processes else 0)
            name = f"process {number + 1}"
            mine, theirs = context.Pipe(duplex=True)
            process = context.Process(target=serve, args=(theirs, Setup(name, threads, self.playbooks, scripts)),
                                      name=f"remediate-{name.replace(' ', '-')}", daemon=True)
            process.start()
            theirs.close()
            worker = _Worker(name, process, mine, threads)
            self.workers.append(worker)
            self._ready.register(mine, selectors.EVENT_READ, worker)
            self._ready.register(process.sentinel, selectors.EVENT_READ, worker)

    def _end_workers(self) -> None:
        abandoned = self.collector.stop.abandoned.is_set()
        for worker in self.workers:
            if not worker.alive:
                continue
            self._post(worker, {"kind": "control", "word": "abandon" if abandoned else "over"})
            if abandoned:
                worker.process.terminate()  # nothing more of its hosts is recorded, nor sent to them
            else:
                self._post(worker, {"kind": "close"})
        for worker in self.workers:
            worker.process.join(10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            worker.conn.close()
        self._ready.close()

    def _post(self, worker: _Worker, message: dict[str, Any]) -> None:
        try:
            worker.conn.send_bytes(pickled(message))
        except OSError:
            self._lost(worker)

    # --- the run -------------------------------------------------------------------------------------------

    def _loop(self) -> None:
        collector = self.collector
        last_watch = 0.0
        while True:
            if collector.stop.abandoned.is_set():
                collector.abandon()
                return
            self._tell_workers()
            self._send_more()
            if collector.finished:
                return
            ready = [key for key, _events in self._ready.select(0.1)]
            answers = [(key.data, self._read(key.data)) for key in ready if key.fileobj is key.data.conn]
            collector.sync()  # write-ahead: every step_started read is on disk before any answer goes back
            for worker, given in answers:
                if given:  # one message per worker for what it asked since the last look
                    self._post(worker, {"kind": "answers", "answers": given})
            for key in ready:
                worker = key.data
                if key.fileobj is not worker.conn and worker.alive and not worker.process.is_alive():
                    self._lost(worker)
            if time.monotonic() - last_watch >= 1.0:
                last_watch = time.monotonic()
                self._watch_deadlines()

    def _read(self, worker: _Worker) -> list[tuple[str, dict[str, Any]]]:
        answers = []
        for _ in range(READ_AT_ONCE):
            try:
                if not worker.has_more():
                    break
                message = worker.conn.recv()
            except (EOFError, OSError):
                self._unwatch(worker.conn)  # the process is ending: its sentinel says so
                break
            answer = self.collector.handle(message)
            if answer is not None:
                answers.append(answer)
        return answers

    def _tell_workers(self) -> None:
        word = "finish" if self.collector.stop.stopped else ""
        if word and word != self._told:
            self._told = word
            for worker in self.workers:
                if worker.alive:
                    self._post(worker, {"kind": "control", "word": word})

    def _send_more(self) -> None:
        collector = self.collector
        collector.refuse_sent()  # a host sent and not started will not start: recorded now
        while self.pending:
            refusal = collector.refusal()
            if refusal is not None:
                collector.not_started(collector.hosts[self.pending.popleft()], refusal)
                continue
            free = [(worker.threads - collector.in_flight.get(worker.name, 0), number)
                    for number, worker in enumerate(self.workers) if worker.alive]
            if not free:  # every worker process died: the hosts left were never started
                host = collector.hosts[self.pending.popleft()]
                collector.not_started(host, Reason("worker_lost_unchanged", site=host.site or "processes"))
                continue
            room, number = max(free)
            if room <= 0:
                return
            self._send(self.workers[number], self.pending.popleft())

    def _send(self, worker: _Worker, index: int) -> None:
        host = self.collector.hosts[index]
        host.site = worker.name
        task = task_out(host.plan, self.connection, self.credentials, self.options, key_watch=self.keys is not None)
        self.collector.sent(host)
        worker.hosts.add(index)
        self._post(worker, {"kind": "task", "task": task})

    def _lost(self, worker: _Worker) -> None:
        """A worker process died: its started hosts are decided here, the others go to the other workers."""
        if not worker.alive:
            return
        worker.alive = False
        self._unwatch(worker.conn)
        self._unwatch(worker.process.sentinel)
        for index in sorted(worker.hosts):
            host = self.collector.hosts[index]
            if host.state == "started":
                self.collector.give_up(host, lost=True)
            elif host.state == "sent":
                self.collector.unsend(host)
                self.pending.appendleft(index)
        worker.hosts.clear()

    def _unwatch(self, what: Connection | int) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._ready.unregister(what)

    def _watch_deadlines(self) -> None:
        """Each host's engine keeps --host-timeout; a host far past it has a worker that no longer works."""
        limit = self.options.host_timeout_s
        if limit is None:
            return
        now = time.monotonic()
        for host in self.collector.hosts:
            if host.state == "started" and now - host.granted_at > limit + LATE_S:
                self.collector.give_up(host, lost=True)

