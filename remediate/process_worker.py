"""One worker process of `remediate run --processes N` (started by processes.py): runs the hosts the parent sends
it, on its own threads, every event going back to the parent, the run's one writer (dispatch/remote_engine.py).

Over its end of a pipe it receives tasks (payload.task_out: the host's plan with its secret values, and the
credentials: they exist only in memory and on the pipe, never on disk), answers to its questions, and the run's
control word; it sends the messages of remote_engine.py. Ctrl-C is the parent's: this process ignores SIGINT
(the terminal sends it to the whole process group) and hears "finish" or "abandon" from the parent. When the
parent goes away, so does this process.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from remediate.dispatch.payload import PayloadError, Playbooks, task_in
from remediate.dispatch.remote_engine import OVER, RunOver, run_engine
from remediate.errors import RemediateError
from remediate.inventory import Host
from remediate.pool import Background
from remediate.secret import Redactor
from remediate.transport import Session


def pickled(message: dict[str, Any]) -> bytes:
    """A message for the pipe (Connection.recv reads it). Plain pickle: the messages are plain data, and
    Connection.send's pickler costs more per message. A value that refuses to be pickled (a Secret, a ProductKey
    in an event) goes as the text the writer's redactor would write for it."""
    try:
        return pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    except TypeError:
        return pickle.dumps(Redactor().value(message), pickle.HIGHEST_PROTOCOL)


@dataclass(frozen=True)
class Setup:
    """What the parent gives a worker process as it starts (pickled over the start pipe, never to disk)."""

    name: str  # "process 2": the site of its hosts in the audit log's reasons
    threads: int  # hosts it runs at once
    playbooks: Playbooks  # the run's PlaybookLibrary: which playbook handles a code
    scripts: dict[str, str]  # sha256 -> script: every script of the run (a task names its steps' by sha256)


class _Answer:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.body: dict[str, Any] | None = None


class Worker:
    """The process's side of the pipe: one reader (the main thread), many hosts sending."""

    def __init__(self, conn: Connection, setup: Setup) -> None:
        self.conn = conn
        self.setup = setup
        self.control = ""
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._waiting: dict[str, _Answer] = {}
        self._following: dict[str, Callable[[], None]] = {}  # channel -> its engine's request_stop
        self._tasks: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        # Sessions close here while the thread takes its next host; waited for before the process ends.
        self.closing = Background(workers=setup.threads, name="remediate-close")

    def serve(self) -> None:
        threads = [threading.Thread(target=self._take, name=f"remediate-host-{number}", daemon=True)
                   for number in range(self.setup.threads)]
        for thread in threads:
            thread.start()
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the parent is gone: nothing will record what this process would do
            kind = message["kind"]
            if kind == "task":
                self._tasks.put(message["task"])
            elif kind == "answers":
                self._answered(message["answers"])
            elif kind == "control":
                self._told(message["word"])
            elif kind == "close":
                break
        for _thread in threads:
            self._tasks.put(None)
        for thread in threads:
            thread.join()
        self.closing.wait()

    def post(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            self.conn.send_bytes(pickled(message))

    def expect(self, rid: str) -> _Answer:
        """Where the answer to question `rid` will come (ask it after this)."""
        waiting = _Answer()
        with self._lock:
            if self.control in OVER:
                raise RunOver(f"the run is {self.control}: no answer will come")
            self._waiting[rid] = waiting
        return waiting

    def wait(self, waiting: _Answer) -> dict[str, Any]:
        waiting.ready.wait()
        if waiting.body is None:
            raise RunOver(f"the run is {self.control}: no answer will come")
        return waiting.body

    def _answered(self, answers: list[tuple[str, dict[str, Any]]]) -> None:
        with self._lock:
            found = [(self._waiting.pop(rid, None), body) for rid, body in answers]
        for waiting, body in found:
            if waiting is not None:
                waiting.body = body
                waiting.ready.set()

    def _told(self, word: str) -> None:
        with self._lock:
            self.control = word
            stops = list(self._following.values())
        for stop in stops:
            stop()  # start no new step; the step in flight finishes and is recorded
        if word in OVER:
            self._release()

    def follow(self, channel: str, stop: Callable[[], None]) -> None:
        with self._lock:
            self._following[channel] = stop
            told = self.control
        if told:
            stop()

    def unfollow(self, channel: str) -> None:
        with self._lock:
            self._following.pop(channel, None)

    def _release(self) -> None:
        """The run is over: every question waiting for an answer gets none."""
        with self._lock:
            waiting, self._waiting = list(self._waiting.values()), {}
        for each in waiting:
            each.ready.set()

    def _take(self) -> None:
        while (data := self._tasks.get()) is not None:
            self._run_host(data)

    def _run_host(self, data: dict[str, Any]) -> None:
        link = PipeLink(self, str(data["label"]))
        try:
            try:
                task = task_in(data, self.setup.playbooks, self.setup.scripts.get)
            except (PayloadError, RemediateError, KeyError, TypeError, ValueError) as error:
                link.ask("refused", site=self.setup.name, message=str(error))
                return
            if not link.ask("start", site=self.setup.name).get("go"):
                return  # the run stopped starting hosts: the parent recorded why

            def connect(host: Host) -> Session:
                return Session(host, task.connection, task.credentials)

            # This process's parent redacts what it writes and shows, and has every secret of the run.
            run_engine(link, task, connect, self.setup.playbooks, None, self.closing, redact=False)
        except RunOver:
            return


class PipeLink:
    """remote_engine.HostLink over the worker process's pipe, for one host."""

    def __init__(self, worker: Worker, host: str) -> None:
        self.worker = worker
        self.host = host
        self.channel = uuid.uuid4().hex
        self._n = 0
        self._lock = threading.Lock()  # numbered and sent together: the parent gets a host's messages in order

    def _message(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self._n += 1
        return {"kind": kind, "host": self.host, "channel": self.channel, "n": self._n, **body}

    def send(self, kind: str, **body: Any) -> None:
        with self._lock:
            self.worker.post(self._message(kind, body))

    def ask(self, kind: str, **body: Any) -> dict[str, Any]:
        with self._lock:
            message = self._message(kind, {**body, "rid": f"{self.channel}-{self._n + 1}"})
            waiting = self.worker.expect(message["rid"])
            self.worker.post(message)
        return self.worker.wait(waiting)

    def heartbeat(self) -> str:
        return self.worker.control

    def follow(self, stop: Callable[[], None]) -> bool:
        self.worker.follow(self.channel, stop)
        return True

    def gone(self) -> None:
        self.worker.unfollow(self.channel)


def serve(conn: Connection, setup: Setup) -> None:
    """The worker process's entry point."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to decide (see the module)
    Worker(conn, setup).serve()
