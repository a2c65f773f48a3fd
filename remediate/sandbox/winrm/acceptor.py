"""One thread accepts the connections of every sandbox listener in the process.

It sleeps in the selector (epoll on Linux) until a listening socket has a connection waiting or a listener
comes or goes: a fleet of idle hosts costs no CPU, whatever its size, and needs no thread per host. Each
accepted connection still gets its own thread (see http.py), so nothing a connection does can hold up another.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading
from collections.abc import Callable

OnReady = Callable[[], None]


class Acceptor:
    """A selector over listening sockets, served by one daemon thread; add() and remove() from any thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._selector = selectors.DefaultSelector()
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._selector.register(self._wake_in, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._pending: list[tuple[socket.socket, OnReady | None, threading.Event]] = []
        self._thread = threading.Thread(target=self._run, name="sandbox-acceptor", daemon=True)
        self._thread.start()

    def add(self, listening: socket.socket, on_ready: OnReady) -> None:
        """Call on_ready (on the acceptor thread) whenever `listening` has a connection to accept."""
        self._change(listening, on_ready)

    def remove(self, listening: socket.socket) -> None:
        """Stop watching `listening`; once this returns, its on_ready is not running and will not run again."""
        self._change(listening, None)

    def _change(self, listening: socket.socket, on_ready: OnReady | None) -> None:
        applied = threading.Event()
        with self._lock:
            self._pending.append((listening, on_ready, applied))
        if threading.current_thread() is self._thread:
            self._apply()
            return
        with contextlib.suppress(BlockingIOError):  # a full wake-up socket already wakes the thread
            self._wake_out.send(b"\0")
        applied.wait()

    def _apply(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for listening, on_ready, applied in pending:
            if on_ready is None:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(listening)
            else:
                self._selector.register(listening, selectors.EVENT_READ, on_ready)
            applied.set()

    def _run(self) -> None:
        while True:
            for key, _ in self._selector.select():  # no timeout: wakes only for work
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        while self._wake_in.recv(4096):
                            pass
                    continue
                with contextlib.suppress(Exception):  # one listener's trouble must not stop the others
                    key.data()
            self._apply()


_shared: Acceptor | None = None
_shared_lock = threading.Lock()


def shared() -> Acceptor:
    """The process's acceptor, started on first use (and again in a forked child, which has no thread)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.pid != os.getpid():
            _shared = Acceptor()
        return _shared
