"""A dry run opens no network connection and resolves no host name."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from remediate.cli import main

DATA = Path(__file__).parent / "data"
KEY = "NPPR9-FWDCX-D2C8J-H872K-2YT43"
HOSTS = (
    "localhost\n"
    "127.0.0.1:5985 kms_host=kms01.lab.example.com\n"
    "client01.lab.example.com kms_host=kms02.lab.example.com\n"
    "[::1]:5986 scheme=https\n"
)
NETWORK_EVENTS = (
    "socket.connect",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.bind",
    "socket.sendto",
    "socket.sendmsg",
)


def dry_run_args(hosts: Path) -> list[str]:
    return [
        "run",
        "0xC004F074",
        "--hosts",
        str(hosts),
        "--playbooks",
        str(DATA / "playbooks"),
        "--dry-run",
        "--secret-env",
        "product_key=TEST_KEY",
        "--output",
        "json",
    ]


@pytest.fixture
def hosts(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.txt"
    path.write_text(HOSTS, "utf-8")
    return path


def test_in_process_dry_run_calls_no_socket_function(hosts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def refuse(name: str) -> Any:
        def refused(*args: object, **kwargs: object) -> None:
            calls.append(name)
            raise AssertionError(f"a dry run called {name}{args}")

        return refused

    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "create_connection"):
        monkeypatch.setattr(socket, name, refuse(f"socket.{name}"))
    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse(f"socket.socket.{name}"))

    result = CliRunner().invoke(main, dry_run_args(hosts), env={"TEST_KEY": KEY})
    assert calls == []
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert [h["host"] for h in plan["hosts"]] == [
        "localhost",
        "127.0.0.1:5985",
        "client01.lab.example.com",
        "[::1]:5986",
    ]


SITECUSTOMIZE = f"""
import os
import sys

_EVENTS = {NETWORK_EVENTS!r}


def _refuse_network(event, args):
    if event in _EVENTS:
        sys.stderr.write(f"NETWORK ATTEMPT: {{event}} {{args!r}}\\n")
        sys.stderr.flush()
        os._exit(99)


sys.addaudithook(_refuse_network)
"""


def run_guarded(tmp_path: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    guard = tmp_path / "guard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE), "utf-8")
    env = dict(os.environ, PYTHONPATH=str(guard), TEST_KEY=KEY, PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.slow
def test_the_guard_stops_a_process_that_resolves_a_name(tmp_path: Path) -> None:
    # Proves the guard below is armed: a process that only looks a name up is stopped.
    result = run_guarded(tmp_path, ["-c", "import socket; socket.getaddrinfo('localhost', 5985)"])
    assert result.returncode == 99
    assert "NETWORK ATTEMPT: socket.getaddrinfo" in result.stderr


@pytest.mark.slow
def test_a_dry_run_in_a_fresh_process_touches_no_network(tmp_path: Path, hosts: Path) -> None:
    result = run_guarded(tmp_path, ["-m", "remediate", *dry_run_args(hosts)])
    assert "NETWORK ATTEMPT" not in result.stderr
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert len(plan["hosts"]) == 4
    assert KEY not in result.stdout and KEY not in result.stderr
