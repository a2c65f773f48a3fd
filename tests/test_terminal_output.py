"""What an operator sees of `status` and `run auto` in a terminal of any width, in a pipe, and in CI: no code or
address split across lines, a closed pipe ends quietly, and progress keeps coming without a terminal."""

from __future__ import annotations

import fcntl
import itertools
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediate import audit
from remediate.audit import AuditLog
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

pytestmark = pytest.mark.slow

PASSWORD = "Sbx-terminal-output-7c"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")
CODE = re.compile(r"0x[0-9A-Fa-f]+")
ADDRESS = re.compile(r"127\.0\.0\.[0-9]*(:[0-9]*)?")

MIXED = """
name: mixed-small
description: A KMS client with stale DNS, a KMS host key over its count, an evaluation edition, healthy hosts.
hosts: 6
world:
  domain: corp.example
  kms_hosts:
    - {name: kms01.corp.example, address: 10.0.0.5, count: 60}
groups:
  - {name: f074, prefix: KMSSTALE-LONG, count: 2, edition: ServerStandard, fault: 0xC004F074,
     cause: stale-dns-cache}
  - {name: c008, prefix: KMSHOSTKEY, count: 1, edition: ServerStandard, fault: 0xC004C008}
  - {name: healthy, prefix: OK, count: 3, edition: ServerStandard}
"""


def remediate(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "remediate", *arguments]


def environment(fleet: Fleet | None = None, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    if fleet is not None:
        env.update(REMEDIATE_USERNAME=fleet.username, REMEDIATE_PASSWORD=fleet.password)
    return {**env, **extra}


def in_terminal(arguments: list[str], columns: int, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run `arguments` with a pseudo-terminal of `columns` x 50 as its standard input, output and error; the
    text it showed, escape sequences removed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(arguments, stdin=slave, stdout=slave, stderr=slave, env={**env, "TERM": "xterm"},
                               cwd=cwd, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = process.wait(timeout=120)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r\n", "\n")
    return code, "\n".join(part.rsplit("\r", 1)[-1] for part in text.split("\n"))


def assert_nothing_split(text: str, ports: set[str]) -> None:
    for code in CODE.findall(text):
        assert len(code) == 10, f"split code {code!r} in:\n{text}"
    for match in ADDRESS.finditer(text):
        assert match.group(0).startswith("127.0.0.1:"), f"split address {match.group(0)!r} in:\n{text}"
        assert match.group(1)[1:] in ports, f"split address {match.group(0)!r} in:\n{text}"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, Path, set[str]]]:
    folder = tmp_path_factory.mktemp("mixed")
    scenario = folder / "mixed.yaml"
    scenario.write_text(MIXED, encoding="utf-8")
    fleet = Fleet.start(build_hosts(scenario, None, 0), auth="ntlm", password=PASSWORD)
    with fleet:
        hosts = fleet.write_hosts_file(folder / "hosts.txt")
        # two hosts nothing listens on: unreachable, with a reason a person must read
        with hosts.open("a", encoding="utf-8") as file:
            file.write("127.0.0.1:9 scheme=http auth=ntlm\n127.0.0.1:7 scheme=http auth=ntlm\n")
        ports = set(re.findall(r"127\.0\.0\.1:(\d+)", hosts.read_text(encoding="utf-8")))
        yield fleet, hosts, ports


@pytest.mark.parametrize("columns", [80, 200])
def test_status_and_run_auto_never_split_a_code_or_an_address(
    mixed: tuple[Fleet, Path, set[str]], columns: int, tmp_path: Path
) -> None:
    fleet, hosts, ports = mixed
    env = environment(fleet)
    common = ["--hosts", str(hosts), "--retries", "0"]
    code, status = in_terminal(remediate("status", *common), columns, env, tmp_path)
    assert code == 1, status  # some hosts are not licensed
    assert_nothing_split(status, ports)
    # the reason of an unreachable host stays in the table, on its row
    row = next(line for line in status.splitlines() if "127.0.0.1:9 " in line and "│" in line)
    assert "refused" in row, status
    log = tmp_path / "auto.jsonl"
    code, run = in_terminal(remediate("run", "auto", *common, "--audit", str(log)), columns, env, tmp_path)
    assert code == 1, run  # unreachable hosts among reached ones: exit 1
    assert_nothing_split(run, ports)
    lines = [line for line in run.splitlines() if line.strip()]
    # the verdict is last; the counts right above it; the hosts that need attention above those, with the
    # command that reruns them
    assert "at least one host was not fixed" in lines[-1]
    assert "unreachable 2" in lines[-2] and "healthy " in lines[-2]
    table_end = max(number for number, line in enumerate(lines) if line.startswith("└"))
    pointed = "\n".join(lines[table_end + 1:-2])
    assert "127.0.0.1:9, 127.0.0.1:7" in pointed and "--rerun-failed" in pointed and "KMSHOSTKEY01" in pointed
    assert "OK01" not in pointed and "KMSSTALE-LONG01" not in pointed  # healthy or fixed: not repeated
    assert all(len(line) <= columns for line in lines), run


def test_piped_output_is_never_wrapped(mixed: tuple[Fleet, Path, set[str]], tmp_path: Path) -> None:
    fleet, hosts, ports = mixed
    result = subprocess.run(remediate("status", "--hosts", str(hosts), "--retries", "0"), env=environment(fleet),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    rows = [line for line in result.stdout.splitlines() if "│" in line and "127.0.0.1:" in line]
    assert len(rows) == len(ports)  # one line per host: nothing wrapped onto a second line
    unreachable = next(row for row in rows if "127.0.0.1:9 " in row)
    assert "the connection was refused (WinRM not listening, or the host is down)" in unreachable
    assert_nothing_split(result.stdout + result.stderr, ports)


def write_big_log(path: Path, hosts: int) -> None:
    with AuditLog(path) as log:
        log.record(audit.RUN_STARTED, code="0xC004F074", operator="op", arguments=["run", "0xC004F074"])
        for number in range(hosts):
            log.record(audit.OUTCOME, host=f"host{number:04}.corp.example", outcome="healthy",
                       reason="every check passed: nothing to fix")
        log.record(audit.RUN_FINISHED, summary={"counts": {"healthy": hosts}, "exit": "ok"})


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("".join(f"host{n:04}.corp.example\n" for n in range(300)), encoding="utf-8")
    env = environment(TMPDIR=str(tmp_path))  # where a crash file would go
    log = tmp_path / "big.jsonl"
    write_big_log(log, 3000)
    assert subprocess.run(remediate("audit", "show", str(log)), capture_output=True, timeout=60).returncode == 0
    for command in (
        remediate("audit", "show", str(log)),
        remediate("run", "0xC004F074", "--hosts", str(hosts), "--dry-run", "--output", "json"),
        remediate("run", "0xC004F074", "--hosts", str(hosts), "--dry-run"),
        remediate("run", "--help"),
    ):
        shown = subprocess.run(
            ["bash", "-o", "pipefail", "-c", f"{' '.join(map(_quote, command))} | head -1"],
            env=env, capture_output=True, text=True, timeout=120,
        )
        assert shown.returncode in (0, 141), (command, shown.stderr)  # 141: 128 + SIGPIPE, as `yes | head`
        assert shown.stderr == "", (command, shown.stderr)
        assert len(shown.stdout.splitlines()) == 1
    assert not list(tmp_path.glob("remediate-crash-*"))


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


SLOW_FLEET = """
name: slow-fleet
description: 100 hosts behind a slow network, some with stale DNS.
hosts: 100
world:
  domain: corp.example
  kms_hosts:
    - {name: kms02.corp.example, address: 10.0.0.6, count: 80}
groups:
  - {name: cached, prefix: APP, count: 20, edition: ServerStandard, fault: 0xC004F074, cause: stale-dns-cache,
     transport: {latency_ms: 100}}
  - {name: ok, prefix: OK, count: 80, edition: ServerStandard, transport: {latency_ms: 100}}
"""
INTERVAL_S = 10.0


def test_without_a_terminal_run_auto_on_100_hosts_prints_progress_at_least_every_10_s(tmp_path: Path) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW_FLEET, encoding="utf-8")
    fleet = Fleet.start(build_hosts(scenario, None, 0), auth="ntlm", password=PASSWORD)
    with fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        began = time.monotonic()
        process = subprocess.Popen(
            remediate("run", "auto", "--hosts", str(hosts), "--forks", "4", "--audit", str(tmp_path / "a.jsonl")),
            env=environment(fleet), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert process.stderr is not None and process.stdout is not None
        arrived = [(time.monotonic() - began, line.rstrip("\n")) for line in process.stderr]
        stdout = process.stdout.read()
        ended = time.monotonic() - began
        assert process.wait(timeout=60) == 0, stdout
    progress = [(at, line) for at, line in arrived if re.match(r"(licence reads|hosts) \d+/100 ", line)]
    assert ended > 2 * INTERVAL_S, "the run must outlast two intervals to show the timer"
    times = [0.0, *(at for at, _ in progress), ended]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(gaps) <= INTERVAL_S + 1.5, (gaps, progress)  # 1.5 s: the interpreter starting, the last write
    last_read = max(line for line in progress if line[1].startswith("licence reads"))
    assert last_read[1].startswith("licence reads 100/100 (100%) · ")
    assert progress[-1][1].startswith("hosts 100/100 (100%) · ") and "fixed 20" in progress[-1][1]
    tenths = {int(m.group(1)) * 10 // 100 for _, line in progress if (m := re.match(r"hosts (\d+)/100", line))}
    assert tenths >= set(range(11))  # a line at every tenth of the run
