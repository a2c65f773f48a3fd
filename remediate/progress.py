"""Progress of a fleet operation (a run, the licence reads of `status` and `run auto`) on standard error.

In a terminal: a live bar of hosts done / total with counts by outcome and the hosts retrying. Anywhere else
(CI, a pipe, a log file) one plain line when it starts, every INTERVAL_S seconds, each time another tenth of the
hosts is done, and when it ends:

    hosts 43/120 (35%) · fixed 30, failed 2, unreachable 1 · retrying 127.0.0.1:5003 connect 3/4 · 1m20s

It is the engine's Observer (engine.py) and the licence reader's (status.py). Thread-safe.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from remediate.i18n import _
from remediate.report import OUTCOME_STYLE, outcome_word
from remediate.results import HostReport, Outcome

if TYPE_CHECKING:
    from remediate.status import HostStatus

INTERVAL_S = 10.0  # without a terminal: a line at least this often, even when no host finishes
SHOWN_RETRYING = 3  # hosts named as retrying
BAR_WIDTH = 24

READ_STYLE = {"licensed": "green", "not_licensed": "bold yellow", "unreachable": "bold magenta",
              "auth": "bold magenta"}


class LiveProgress:
    """Hosts done / total, with counts by outcome and the hosts now retrying (see the module's note).

    kind: "run" (the engine's hosts) or "read" (licence reads). enabled False: shows nothing. Its words are in the
    language current when it is made.
    """

    def __init__(
        self,
        total: int,
        console: Console | None = None,
        enabled: bool = True,
        *,
        kind: str = "run",
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.console = console or Console(stderr=True)
        self.total = total
        self.interval_s = interval_s
        self._title = _("hosts") if kind == "run" else _("licence reads")
        self._read_words = {  # what a licence read found
            "licensed": _("licensed"),
            "not_licensed": _("not licensed"),
            "unreachable": outcome_word(Outcome.UNREACHABLE),
            "auth": outcome_word(Outcome.AUTH_FAILED),
        }
        self._retrying_word, self._more = _("retrying"), _("+{count} more")
        self._lock = threading.RLock()
        self._counts: dict[str, tuple[int, str]] = {}  # word -> (count, style), in the order first seen
        self._retrying: dict[str, str] = {}  # host -> "connect 3/4"
        self._done = 0
        self._tenths = 0
        self._began = time.monotonic()
        self._last_line = self._began
        self._quit = threading.Event()
        self._ticker: threading.Thread | None = None
        live = enabled and self.console.is_terminal
        self._plain = enabled and not live
        self._bar: Progress | None = None
        if live:
            # The counts come last and wrap at spaces in a narrow terminal: a host name is never cut short.
            self._bar = Progress(
                TextColumn(f"[bold]{self._title}"),
                BarColumn(bar_width=BAR_WIDTH),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}", table_column=Column(ratio=1, overflow="fold")),
                console=self.console,
                transient=False,
            )
            self._task = self._bar.add_task("", total=total)

    # --- what the engine and the licence reader call ------------------------------------------------------

    def host_started(self, host: str) -> None:
        pass  # a started host shows once it finishes or retries; naming each start would only flicker

    def host_retrying(self, host: str, what: str, attempt: int, attempts: int | None) -> None:
        """`host` is about to try `what` (connect, or a step id) again: attempt `attempt` of `attempts`."""
        with self._lock:
            self._retrying[host] = f"{what} {attempt}/{attempts}" if attempts else f"{what} {attempt}"
            self._refresh(advance=0)

    def host_finished(self, report: HostReport) -> None:
        self._finished(report.host, outcome_word(report.outcome), OUTCOME_STYLE[report.outcome])

    def host_read(self, status: HostStatus) -> None:
        if status.auth_failed:
            kind = "auth"
        elif status.unreachable:
            kind = "unreachable"
        else:
            kind = "licensed" if status.licensed else "not_licensed"
        self._finished(status.host.label, self._read_words[kind], READ_STYLE[kind])

    # --- showing it -----------------------------------------------------------------------------------------

    def _finished(self, host: str, word: str, style: str) -> None:
        with self._lock:
            count, _style = self._counts.get(word, (0, style))
            self._counts[word] = (count + 1, style)
            self._retrying.pop(host, None)
            self._done += 1
            self._refresh(advance=1)
            tenths = self._done * 10 // max(1, self.total)
            if self._plain and tenths > self._tenths:
                self._tenths = tenths
                self._line()

    def _describe(self) -> Text:
        text = Text()
        for word, (count, style) in self._counts.items():
            if text:
                text.append(", ")
            text.append(f"{word} {count}", style=style)
        if self._retrying:
            hosts = list(self._retrying.items())
            named = ", ".join(f"{host} {what}" for host, what in hosts[:SHOWN_RETRYING])
            more = len(hosts) - SHOWN_RETRYING
            if more > 0:
                named += " " + self._more.format(count=more)
            text.append(" · " if text else "")
            text.append(f"{self._retrying_word} {named}", style="yellow")
        return text

    def _refresh(self, advance: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=advance, description=self._describe().markup)

    def _line(self) -> None:
        """One plain line (the caller holds the lock)."""
        self._last_line = time.monotonic()
        percent = self._done * 100 // max(1, self.total)
        line = Text(f"{self._title} {self._done}/{self.total} ({percent}%)")
        described = self._describe()
        if described:
            line.append(" · ")
            line.append_text(described)
        line.append(f" · {_elapsed(self._last_line - self._began)}", style="dim")
        try:
            self.console.print(line, soft_wrap=True)
        except OSError:  # standard error is gone (a closed pipe): the run goes on without progress
            self._plain = False

    def _tick(self) -> None:
        while True:
            with self._lock:
                due = self._last_line + self.interval_s
            if self._quit.wait(max(0.0, due - time.monotonic())):
                return
            with self._lock:
                if self._plain and time.monotonic() >= self._last_line + self.interval_s:
                    self._line()

    def __enter__(self) -> LiveProgress:
        if self._bar is not None:
            self._bar.start()
        if self._plain:
            with self._lock:
                self._line()
            self._ticker = threading.Thread(target=self._tick, name="remediate-progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._quit.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._bar is not None:
            self._bar.stop()
        elif self._plain:
            with self._lock:
                if self._tenths < 10:  # the last tenth printed a line already
                    self._line()


def _elapsed(seconds: float) -> str:
    minutes, whole = divmod(int(seconds), 60)
    return f"{minutes}m{whole:02d}s" if minutes else f"{whole}s"
