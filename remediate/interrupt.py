"""Ctrl-C: the first press winds a fleet operation down, the second abandons what is in flight.

    stop = TwoPressStop()
    with on_ctrl_c(lambda: stop.press()):
        ...  # workers look at stop.finishing / stop.abandoned

Signal handlers only set events here: a handler that wrote to a stream or took a lock the interrupted code
holds could deadlock or corrupt what the main thread was writing.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


class TwoPressStop:
    """The state of a two-press stop. The first press (`finish`) starts nothing new and lets what is in flight
    finish; the second (`abandon`) stops waiting for it."""

    def __init__(self) -> None:
        self.finishing = threading.Event()
        self.abandoned = threading.Event()
        self._woken: list[Callable[[], object]] = []

    def wake_on_press(self, wake: Callable[[], object]) -> None:
        """Call wake() at each press from now on (it must be safe in a signal handler), so that a thread which
        waits for other reasons too notices the press at once."""
        self._woken.append(wake)

    def stop_waking(self, wake: Callable[[], object]) -> None:
        self._woken.remove(wake)

    def press(self) -> bool:
        """One Ctrl-C; True when it abandons what is in flight. Safe to call from a signal handler."""
        if self.finishing.is_set():
            self.abandon()
            return True
        self.finish()
        return False

    def finish(self) -> None:
        self.finishing.set()
        self._wake()

    def abandon(self) -> None:
        self.finishing.set()
        self.abandoned.set()
        self._wake()

    def _wake(self) -> None:
        for wake in tuple(self._woken):
            wake()

    @property
    def stopped(self) -> bool:
        return self.finishing.is_set()

    def pause(self, seconds: float) -> None:
        """Sleep that a press cuts short (retry backoffs)."""
        self.finishing.wait(seconds)


def write_from_handler(text: str) -> None:
    """Write `text` to stderr from a signal handler. It writes from a thread of its own: a signal handler that
    writes to a stream the main thread may be writing to at that moment could fail."""
    threading.Thread(target=lambda: (sys.stderr.write(text), sys.stderr.flush()), daemon=True).start()


@contextmanager
def on_ctrl_c(pressed: Callable[[], object]) -> Iterator[None]:
    """While the block runs in the main thread, Ctrl-C calls `pressed` instead of raising KeyboardInterrupt
    wherever the main thread happens to be (in the middle of an audit line, say). Elsewhere: no change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        pressed()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
