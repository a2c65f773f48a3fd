"""The one bounded-concurrency runner over hosts: `forks` workers, a two-press stop, a per-host deadline hook.

    pool = HostPool(hosts, work, forks=10, stop=stop, name="remediate-host")
    ran = pool.run()          # ran.done: index -> result; after an abandon, ran.given_up / ran.untaken

Workers are daemon threads, so after an abandon nothing waits for work still in flight (a host that never
answers), not even the interpreter on its way out. The calling thread only waits, so it stays free to take
Ctrl-C (see interrupt.py). This is the only place in the core that starts worker threads (the audit log's
group commit keeps one thread of its own).

    closing = Background(workers=10, name="remediate-close")
    closing.submit(session.close)    # off the critical path: the worker takes its next host
    closing.wait(stop.abandoned)     # at the end of the run, unless the run was abandoned
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from remediate.interrupt import TwoPressStop

T = TypeVar("T")
R = TypeVar("R")

POLL_S = 0.05  # how often Background.wait looks at the stop
LOOK_S = 1.0  # the longest HostPool's waiting thread sleeps without being woken (see HostPool.run)


@dataclass
class PoolRun(Generic[R]):
    """What a pool run produced. After an abandon, `given_up` holds the items that were in flight (their
    results, should they come, are dropped) and `untaken` those no worker took."""

    done: dict[int, R] = field(default_factory=dict)
    given_up: list[int] = field(default_factory=list)
    untaken: list[int] = field(default_factory=list)


class HostPool(Generic[T, R]):
    """Runs `work(index, item)` for every item, at most `forks` at a time.

    finish(index, result): called under `lock` as an item's result is kept, atomically with the item leaving
    the in-flight set, so that an abandon never also reports an item that has just finished.
    take_after_stop: keep taking items after the first press (the engine does, to record each host as not
    started); otherwise the first press stops taking.
    on_abandon(given_up, untaken): called under `lock` when the run is abandoned, before run() returns.
    deadline_s / on_deadline(index): called once, from the waiting thread, for an item in flight longer than
    deadline_s; it may give the item up (give_up), which starts a worker in place of the one it leaves behind.
    halt(): once true, no worker takes another item (like the first press, for one operation's own reasons).
    A worker that raises stops every worker from taking new items; run() re-raises it once the items in
    flight are done (or at once, after an abandon).
    """

    def __init__(
        self,
        items: Sequence[T],
        work: Callable[[int, T], R],
        *,
        forks: int,
        stop: TwoPressStop,
        name: str,
        finish: Callable[[int, R], None] | None = None,
        take_after_stop: bool = False,
        on_abandon: Callable[[list[int], list[int]], None] | None = None,
        deadline_s: float | None = None,
        on_deadline: Callable[[int], None] | None = None,
        lock: threading.RLock | None = None,
        halt: Callable[[], bool] | None = None,
    ) -> None:
        self.items = items
        self.work = work
        self.forks = max(1, min(forks, len(items) or 1))
        self.stop = stop
        self.name = name
        self.finish = finish
        self.take_after_stop = take_after_stop
        self.on_abandon = on_abandon
        self.deadline_s = deadline_s
        self.on_deadline = on_deadline
        self.lock = lock or threading.RLock()
        self.halt = halt
        self._workers: list[threading.Thread] = []
        self._next = 0
        self._started: dict[int, float] = {}  # in flight: index -> when its work began (monotonic)
        self._expired: set[int] = set()
        self._given_up: set[int] = set()
        self._error: BaseException | None = None
        self._run: PoolRun[R] = PoolRun()
        # Something the waiting thread looks at changed (a SimpleQueue: put() is safe in a signal handler).
        self._changed: queue.SimpleQueue[None] = queue.SimpleQueue()

    def in_flight(self) -> list[int]:
        with self.lock:
            return sorted(self._started)

    def run(self) -> PoolRun[R]:
        # The waiting thread sleeps until an item is done, a worker ends, the stop is pressed or a deadline is
        # due, not on a fixed tick: a worker process running one engine per host has many pools waiting at once.
        self.stop.wake_on_press(self._wake)
        try:
            for _ in range(self.forks):
                self._start_worker()
            while not self.stop.abandoned.is_set() and self._busy():
                self._sleep()
                self._check_deadlines()
        finally:
            self.stop.stop_waking(self._wake)
        with self.lock:
            if self.stop.abandoned.is_set():
                self._abandon()
            if self._error is not None:
                raise self._error
            return self._run

    def give_up(self, index: int) -> bool:
        """Stop waiting for one item in flight (its result, should it come, is dropped) and start a worker in
        place of the one it holds. False when the item is no longer in flight."""
        with self.lock:
            if index not in self._started:
                return False
            del self._started[index]
            self._given_up.add(index)
            self._start_worker()
            self._wake()
            return True

    def _start_worker(self) -> None:
        worker = threading.Thread(target=self._work_then_wake, name=f"{self.name}-{len(self._workers)}",
                                  daemon=True)
        self._workers.append(worker)
        worker.start()

    def _wake(self) -> None:
        self._changed.put(None)

    def _sleep(self) -> None:
        """Until woken (each wake since the last sleep counts once) or the next deadline is due."""
        try:
            self._changed.get(timeout=self._until_next_deadline())
            while True:
                self._changed.get_nowait()
        except queue.Empty:
            pass

    def _until_next_deadline(self) -> float:
        if self.deadline_s is None or self.on_deadline is None:
            return LOOK_S
        now = time.monotonic()
        with self.lock:
            due = [began + self.deadline_s - now for index, began in self._started.items()
                   if index not in self._expired]
        return max(0.0, min([LOOK_S, *due]))

    def _work_then_wake(self) -> None:
        try:
            self._worker()
        finally:
            self._wake()

    def _busy(self) -> bool:
        """Items in flight, or items left that a worker will still take."""
        with self.lock:
            if self._started:
                return True
            if self._error is not None or self._next >= len(self.items):
                return False
            if not any(worker.is_alive() for worker in self._workers):
                return False  # pragma: no cover - a worker only ends when nothing is left to take
            return not self._halted()

    def _halted(self) -> bool:
        if self.stop.stopped and not self.take_after_stop:
            return True
        return self.halt is not None and self.halt()

    def _take(self) -> int | None:
        with self.lock:
            if self.stop.abandoned.is_set() or self._error is not None or self._next >= len(self.items):
                return None
            if self._halted():
                return None
            index = self._next
            self._next += 1
            self._started[index] = time.monotonic()
            return index

    def _worker(self) -> None:
        while (index := self._take()) is not None:
            try:
                result = self.work(index, self.items[index])
                with self.lock:
                    if index in self._given_up:
                        return
                    if self.finish is not None:
                        self.finish(index, result)
                    self._run.done[index] = result
                    del self._started[index]
                self._wake()
            except BaseException as error:  # re-raised by the waiting thread
                with self.lock:
                    self._error = self._error or error
                    self._started.pop(index, None)
                return

    def _abandon(self) -> None:
        given_up = sorted(self._started)
        untaken = list(range(self._next, len(self.items)))
        self._given_up.update(given_up)
        self._started.clear()
        self._next = len(self.items)
        self._run.given_up, self._run.untaken = given_up, untaken
        if self.on_abandon is not None:
            self.on_abandon(given_up, untaken)

    def _check_deadlines(self) -> None:
        if self.deadline_s is None or self.on_deadline is None:
            return
        now = time.monotonic()
        with self.lock:
            late = [index for index, began in self._started.items()
                    if now - began > self.deadline_s and index not in self._expired]
            self._expired.update(late)
        for index in late:
            self.on_deadline(index)


class Background:
    """Work that need not hold up the thread that hands it over (closing a host's session once its outcome is
    known), run on up to `workers` daemon threads, started as they are needed. A failure in the work is its own
    business: the work is expected to handle what it can."""

    def __init__(self, workers: int, name: str) -> None:
        self.workers = max(1, workers)
        self.name = name
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._threads = 0
        self._idle = 0
        self._pending = 0  # handed over and not yet done

    def submit(self, work: Callable[[], None]) -> None:
        with self._lock:
            self._pending += 1
            start = self._idle <= self._work.qsize() and self._threads < self.workers  # no thread free for it
            if start:
                self._threads += 1
        self._work.put(work)
        if start:
            threading.Thread(target=self._serve, name=f"{self.name}-{self._threads}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            work = self._work.get()
            with self._lock:
                self._idle -= 1
            with contextlib.suppress(Exception):  # see the class: the work reports what matters itself
                work()
            with self._lock:
                self._pending -= 1
                self._lock.notify_all()

    def wait(self, abandoned: threading.Event | None = None) -> bool:
        """Wait until every piece of work handed over is done; True when it is. Returns early (False) once
        `abandoned` is set."""
        with self._lock:
            while self._pending:
                if abandoned is not None and abandoned.is_set():
                    return False
                self._lock.wait(POLL_S)
            return True
