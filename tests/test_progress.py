"""Progress of a fleet operation: a live bar in a terminal, plain lines anywhere else (CI, a pipe)."""

from __future__ import annotations

import io
import re
import time

from rich.console import Console

from remediate.i18n import in_language
from remediate.inventory import Host
from remediate.progress import LiveProgress
from remediate.results import HostReport, Outcome, StepResult
from remediate.status import HostStatus


def plain_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=10_000, color_system=None, force_terminal=False), buffer


def finished(host: str, outcome: Outcome) -> HostReport:
    return HostReport(host=host, code="0xC004F074", outcome=outcome)


def test_without_a_terminal_a_line_at_the_start_at_each_tenth_and_at_the_end() -> None:
    console, buffer = plain_console()
    with LiveProgress(20, console=console) as progress:
        for number in range(20):
            progress.host_finished(finished(f"pc{number}", Outcome.FAILED if number == 3 else Outcome.FIXED))
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("hosts 0/20 (0%)")
    done = [int(re.match(r"hosts (\d+)/20", line).group(1)) for line in lines[1:]]  # type: ignore[union-attr]
    assert done == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert lines[-1].startswith("hosts 20/20 (100%) · fixed 19, failed 1")


def test_without_a_terminal_a_line_comes_every_interval_and_names_the_hosts_retrying() -> None:
    console, buffer = plain_console()
    with LiveProgress(3, console=console, interval_s=0.2) as progress:
        progress.host_retrying("127.0.0.1:5003", "connect", 3, 5)
        time.sleep(0.7)  # nothing finishes: the lines keep coming
        progress.host_finished(finished("127.0.0.1:5003", Outcome.UNREACHABLE))
    lines = buffer.getvalue().splitlines()
    retrying = [line for line in lines if "retrying 127.0.0.1:5003 connect 3/5" in line]
    assert len(retrying) >= 3 and all(line.startswith("hosts 0/3 (0%)") for line in retrying)
    assert "retrying" not in lines[-1] and lines[-1].startswith("hosts 1/3 (33%) · unreachable 1")


def test_licence_reads_count_licensed_not_licensed_and_unreachable_in_japanese() -> None:
    console, buffer = plain_console()
    licensed = StepResult(ok=True, license_status=1)
    with in_language("ja"), LiveProgress(3, console=console, kind="read") as progress:
        progress.host_read(HostStatus(Host("a"), result=licensed))
        progress.host_read(HostStatus(Host("b"), result=StepResult(ok=True, license_status=5)))
        progress.host_read(HostStatus(Host("c"), error="refused: no", unreachable=True))
    assert "ライセンス読み取り 3/3 (100%) · 認証済み 1, 未認証 1, 接続不可 1" in buffer.getvalue()


def test_a_run_s_progress_line_speaks_japanese_and_names_hosts_as_they_are() -> None:
    console, buffer = plain_console()
    with in_language("ja"), LiveProgress(3, console=console) as progress:
        progress.host_retrying("127.0.0.1:5003", "connect", 2, 4)
        progress.host_finished(HostReport(host="pc1.corp.example", code="0xC004F074", outcome=Outcome.FIXED))
        progress.host_finished(HostReport(host="pc2.corp.example", code="0xC004F074", outcome=Outcome.ESCALATE))
    lines = buffer.getvalue().splitlines()
    assert any(line.startswith("ホスト 2/3 (66%) · 修正済み 1, 要対応 1 · 再試行中 127.0.0.1:5003 connect 2/4")
               for line in lines), lines
    assert not re.search(r"\b(hosts|fixed|escalate|retrying)\b", buffer.getvalue())


def test_in_a_terminal_a_bar_with_the_counts() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, color_system=None, force_terminal=True)
    with LiveProgress(2, console=console) as progress:
        progress.host_retrying("pc1", "activate", 2, 3)
        progress.host_finished(finished("pc1", Outcome.FIXED))
        progress.host_finished(finished("pc2", Outcome.FAILED))
    text = buffer.getvalue()
    assert "━" in text and "2/2" in text and "fixed 1, failed 1" in text


def test_disabled_shows_nothing() -> None:
    console, buffer = plain_console()
    with LiveProgress(2, console=console, enabled=False) as progress:
        progress.host_finished(finished("pc1", Outcome.FIXED))
    assert buffer.getvalue() == ""
